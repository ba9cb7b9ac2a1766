"""Senders at once on PostgreSQL (real threads): each notification is taken by one sender and sent
once, and the daily cap holds when two senders send to one member at the same moment."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection, connections, transaction

from loyalty import outbox
from loyalty.services import adjust_growth, enrol_member
from members.outbox import publish
from notifications import services
from notifications.models import Notification, NotificationSettings
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL"),
]


def senders_at_once(count: int) -> None:
    start = threading.Barrier(count)
    failures: list[BaseException] = []

    def send() -> None:
        try:
            start.wait()
            while services.send_due(limit=7):
                pass
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.fixture
def quiet_free(program):
    config = NotificationSettings.current()
    config.quiet_hours_start = config.quiet_hours_end
    config.message_kinds = list(config.email_kinds)
    config.save()
    return config


def test_four_senders_send_each_notification_once(quiet_free):
    actor = UserFactory(is_superuser=True)
    for n in range(60):
        member = enrol_member(external_id=f"T-{n}", email=f"t{n}@example.com")
        adjust_growth(member=member, amount=600, reason="goodwill", actor=actor)
    outbox.relay()
    assert Notification.objects.filter(status="pending").count() == 120
    mail.outbox.clear()
    senders_at_once(4)
    assert sorted(message.to[0] for message in mail.outbox) == sorted(f"t{n}@example.com" for n in range(60))
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_the_daily_cap_holds_against_two_senders_at_once(quiet_free):
    quiet_free.daily_marketing_cap = 1
    quiet_free.save()
    member = enrol_member(external_id="T-cap", email="cap@example.com", marketing_opt_in=True)
    with transaction.atomic():
        for n in range(6):
            publish(
                "coupon.expiring",
                member=member,
                payload={
                    "coupon_id": n,
                    "template": "x",
                    "kind": "amount_off",
                    "value": "5.00",
                    "valid_until": "2031-01-01T00:00:00Z",
                },
            )
    outbox.relay()
    mail.outbox.clear()
    senders_at_once(3)
    assert len(mail.outbox) == 1
    emails = Notification.objects.filter(channel="email")
    assert sorted(emails.values_list("status", flat=True)) == ["sent"] + ["suppressed"] * 5
