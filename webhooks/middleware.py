"""An endpoint stopped on its own (410 Gone, or a day of failures): told once, on the next admin
page of each person who may change endpoints."""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils.html import format_html

from loyalty.backoffice.middleware import staff_viewing_admin

from . import notices

SEEN = "webhooks_stops_seen"


class EndpointStopNotices:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if staff_viewing_admin(request) and request.user.has_perm(notices.PERMISSION):
            seen = set(request.session.get(SEEN, []))
            for endpoint in notices.unseen(seen=seen):
                link = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
                messages.warning(request, format_html('<a href="{}">{}</a>', link, notices.message(endpoint)))
                seen.add(notices.key(endpoint))
            if seen != set(request.session.get(SEEN, [])):
                request.session[SEEN] = sorted(seen)
        return self.get_response(request)
