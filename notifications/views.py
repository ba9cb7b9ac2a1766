"""The unsubscribe link in marketing messages: a page that asks (GET, which mail scanners follow
and which must therefore change nothing) and a POST that withdraws the consent, either from that
page's button or straight from a mail provider's one-click unsubscribe (RFC 8058). The signed link
is the only credential: there is no login and no CSRF token to have."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import services
from .models import NotificationSettings


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str) -> HttpResponse:
    member = services.member_of_token(token)
    language = (member.language if member else "") or NotificationSettings.current().default_language
    with translation.override(language):
        if member is None:
            return render(request, "notifications/unsubscribe.html", {"state": "unknown"}, status=404)
        if request.method == "POST":
            services.unsubscribe(token=token)
            return render(request, "notifications/unsubscribe.html", {"state": "done"})
        state = "ask" if member.marketing_opt_in else "already"
        return render(request, "notifications/unsubscribe.html", {"state": state, "token": token})
