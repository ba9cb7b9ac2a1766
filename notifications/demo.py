"""The demo's mailbox (only with DEBUG): the demo's email backend keeps the last messages sent —
members' notifications and staff notices — and `/demo/mail/` shows them as the members read them,
instead of a console buried under hundreds of messages. The demo step says where to look."""

from __future__ import annotations

from django.core.cache import cache
from django.core.mail.backends.base import BaseEmailBackend
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from loyalty.config import current_config

KEPT = "notifications-demo-mailbox"
SHOWN = 50


class DemoMailbox(BaseEmailBackend):
    """Keeps what it is given (newest first, the last SHOWN) in the cache; sends nothing."""

    def send_messages(self, email_messages):
        kept = cache.get(KEPT, [])
        for message in email_messages:
            html = next((content for content, kind in getattr(message, "alternatives", []) if kind == "text/html"), "")
            kept.insert(
                0,
                {
                    "at": timezone.now(),
                    "to": ", ".join(message.to),
                    "subject": message.subject,
                    "text": message.body,
                    "html": html,
                    "unsubscribe": message.extra_headers.get("List-Unsubscribe", ""),
                },
            )
        cache.set(KEPT, kept[:SHOWN], None)
        return len(email_messages)


def setup(stdout, seed: int) -> None:
    """The demo step: where the email goes."""
    stdout.write("Notifications: email is kept in the demo's mailbox; read it at /demo/mail/.")


def page(request):
    with timezone.override(current_config().settings.zone):  # people see times in the program's zone
        return render(request, "notifications/demo_mailbox.html", {"messages_kept": cache.get(KEPT, [])})


urlpatterns = [path("", page, name="notifications-demo-mailbox")]
