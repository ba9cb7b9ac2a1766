"""The subscriber's two paths make the same notifications: on PostgreSQL the set-based INSERT …
SELECT (make_notifications_between), elsewhere the events loaded into Python (make_notifications).
A seeded population covers every decision: consent, address, status, language, an old event, goods
shipped and delivered, kinds off."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty import outbox
from members.models import DomainEvent, DomainEventBatch, Member
from members.outbox import Occurrence, publish_many
from notifications import services
from notifications.models import Notification
from tests.factories import MemberFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL"),
]

KEPT = ("member_id", "kind", "channel", "event_id", "marketing", "params", "status", "reason", "language")


def rows() -> list[tuple]:
    return sorted(Notification.objects.values_list(*KEPT))


def test_the_set_based_subscriber_makes_what_the_per_event_one_makes(notification_settings):
    rng = random.Random(20)
    notification_settings.email_kinds = [k for k in notification_settings.email_kinds if k != "coupon.issued"]
    notification_settings.save()
    members = [
        MemberFactory(
            email=rng.choice(["", "someone@example.com"]),
            language=rng.choice(["", "en", "zh-hans"]),
            marketing_opt_in=rng.random() < 0.5,
            status=rng.choice(["active", "active", "active", "frozen", "closed"]),
        )
        for _ in range(60)
    ]
    now = timezone.now()
    occurrences = []
    for member in members:
        for _ in range(3):
            event_type, payload = rng.choice(
                [
                    ("tier.upgraded", {"from": "normal", "to": "bronze", "reason": "upgrade"}),
                    ("tier.at_risk", {"tier": "gold", "to": "silver", "on": "2031-03-01", "growth_needed": 12}),
                    ("coupon.issued", {"coupon_id": 7, "template": "t", "kind": "amount_off", "value": "5.00",
                                       "valid_from": now.isoformat(), "valid_until": now.isoformat()}),
                    ("coupon.expiring", {"coupon_id": 8, "template": "t", "kind": "percent_off", "value": "10.00",
                                         "valid_until": now.isoformat()}),
                    ("points.expiring", {"points": 30, "lots": [{"date": "2031-05-10", "points": 30}]}),
                    ("redemption.fulfilment_changed", {"redemption_id": 3, "from": "pending", "to": "shipped",
                                                      "carrier": "SF", "tracking_number": "SF1"}),
                    ("redemption.fulfilment_changed", {"redemption_id": 3, "from": "shipped", "to": "delivered",
                                                      "carrier": "SF", "tracking_number": "SF1"}),
                    ("points.earned", {"points": 5}),
                ]
            )  # fmt: skip
            old = rng.random() < 0.1
            occurrences.append(Occurrence(event_type, payload, member.pk, now - timedelta(days=3) if old else now))
    with transaction.atomic():
        publish_many(occurrences)
    outbox.number_batches()
    upto = DomainEventBatch.objects.order_by("-position").values_list("position", flat=True).first()

    with transaction.atomic():
        made = services.make_notifications_between(0, upto)
    set_based = rows()
    assert made == len(set_based) > 100
    assert {row[6] for row in set_based} == {"pending", "suppressed"}
    assert {row[7] for row in set_based} >= {"", "too_old", "member_inactive", "no_address", "not_opted_in"}

    Notification.objects.all().delete()
    with transaction.atomic():
        assert services.make_notifications(list(outbox.events_between(0, upto, services.event_types()))) == made
    assert rows() == set_based
    assert Member.objects.count() == 60 and DomainEvent.objects.count() == 180
