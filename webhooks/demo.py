"""The demo's own receiver (only with DEBUG): an endpoint registered at the demo server's inbox
(`/demo/webhooks/inbox/`), which verifies each delivery with the `standardwebhooks` library as a
customer's receiver would, and a page (`/demo/webhooks/`) listing what arrived. Deliveries start
with the first change after the demo is up: adjust a member's points in the admin, or press "Send a
test event" on the endpoint."""

from __future__ import annotations

import json
import logging

from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from loyalty.config import current_config

from . import selectors, services
from .models import Endpoint

INBOX_PATH = "/demo/webhooks/inbox/"
INBOX_URL = f"http://127.0.0.1:8000{INBOX_PATH}"
DESCRIPTION = "Demo inbox (/demo/webhooks/)"
KEPT = "webhooks-demo-inbox"
SHOWN = 50


class QuietInbox(logging.Filter):
    """The inbox's own requests stay off the server's console, where a burst of deliveries would
    bury the demo's logins: this page lists them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return INBOX_PATH not in record.getMessage()


logging.getLogger("django.server").addFilter(QuietInbox())


def setup(stdout, seed: int) -> None:
    """The demo step: the endpoint, taking every event type."""
    endpoint, _ = services.create_endpoint(url=INBOX_URL, event_types="*", description=DESCRIPTION)
    stdout.write(f"Webhooks: endpoint {endpoint.pk} delivers every event to {INBOX_URL}; watch /demo/webhooks/.")


@csrf_exempt
@require_POST
def inbox(request):
    endpoint = Endpoint.objects.filter(url=INBOX_URL).first()
    secrets = selectors.signing_secrets(endpoint.pk, now=timezone.now()) if endpoint else []
    verified, problem = False, "no demo endpoint"
    for secret in secrets[:1]:  # the current secret: what a receiver has configured
        try:
            Webhook(secret).verify(request.body, dict(request.headers))
            verified, problem = True, ""
        except WebhookVerificationError as failed:
            problem = str(failed)
    try:
        message = json.loads(request.body)
    except ValueError:
        message = {}
    received = cache.get(KEPT, [])
    received.insert(
        0,
        {
            "at": timezone.now(),
            "id": request.headers.get("webhook-id", ""),
            "type": message.get("type", ""),
            "member": message.get("member") or "",
            "data": json.dumps(message.get("data", {}), ensure_ascii=False),
            "verified": verified,
            "problem": problem,
        },
    )
    cache.set(KEPT, received[:SHOWN], None)
    return HttpResponse(status=204 if verified else 400)


def page(request):
    with timezone.override(current_config().settings.zone):  # people see times in the program's zone
        return render(request, "webhooks/demo_inbox.html", {"received": cache.get(KEPT, []), "inbox": INBOX_URL})


urlpatterns = [path("", page, name="webhooks-demo"), path("inbox/", inbox, name="webhooks-demo-inbox")]
