from __future__ import annotations

import datetime as dt

import jsonschema
import pytest
from django.core import mail

from loyalty import outbox
from loyalty.services import enrol_member
from members.models import DomainEvent
from notifications import services
from notifications.models import Notification, NotificationSettings
from webhooks.catalogue import envelope


@pytest.fixture
def notification_settings(program) -> NotificationSettings:
    """Every kind on both channels, no quiet hours (tests of them set their own), a cap of two."""
    config = NotificationSettings.current()
    config.message_kinds = list(config.email_kinds)
    config.quiet_hours_start = config.quiet_hours_end = dt.time(0, 0)
    config.default_language = "en"
    config.save()
    return config


@pytest.fixture
def enrol(notification_settings):
    def make(external_id: str, **profile):
        profile.setdefault("email", f"{external_id.lower()}@example.com")
        return enrol_member(external_id=external_id, **profile)

    return make


def relay_and_send() -> list[Notification]:
    """The relay makes the notifications; a sender sends what is due. Returns the emails' notifications."""
    mail.outbox.clear()
    outbox.relay()
    services.send_due(limit=1000)
    return list(Notification.objects.order_by("id"))


def only_email() -> mail.EmailMessage:
    (message,) = mail.outbox
    return message


def assert_valid(event: DomainEvent) -> None:
    """The event as a webhook delivers it matches the catalogue's schema of its type."""
    jsonschema.validate(
        {
            "id": str(event.id),
            "type": event.type,
            "schema_version": 1,
            "occurred_at": event.occurred_at.isoformat(),
            "member": event.member_external_id,
            "sequence": event.member_sequence,
            "data": event.payload,
        },
        envelope(event.type),
        format_checker=jsonschema.FormatChecker(),
    )
