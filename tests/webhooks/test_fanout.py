"""The subscriber's two paths make the same deliveries: the set-based INSERT … SELECT on PostgreSQL
(`create_deliveries_between`, what the relay calls there) and the per-event Python path
(`create_deliveries`, SQLite's), on a seeded population with every kind of endpoint."""

from __future__ import annotations

import json
import random

import pytest
from django.db import connection
from django.utils.dateparse import parse_datetime

from loyalty import outbox
from loyalty.models import OutboxNumbering
from loyalty.services import adjust_points, enrol_member
from tests.helpers import purchase
from webhooks.models import Delivery
from webhooks.services import create_deliveries, create_deliveries_between, create_endpoint, pause_endpoint

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based path is PostgreSQL's"),
    pytest.mark.django_db,
]


def made() -> set[tuple]:
    rows = set()
    for delivery in Delivery.objects.all():
        body = json.loads(delivery.body)
        body["occurred_at"] = parse_datetime(body["occurred_at"])  # the same moment, written either way
        rows.add(
            (delivery.endpoint_id, str(delivery.event_id), delivery.event_type, delivery.member_id,
             json.dumps(body, sort_keys=True, default=str), delivery.status)
        )  # fmt: skip
    return rows


def test_the_set_based_and_the_per_event_paths_make_the_same_deliveries(program, user):
    rng = random.Random(20)
    for n in range(40):
        member = enrol_member(external_id=f"M-{n}", email=f"m{n}@example.com" if n % 3 else "", phone="138" * (n % 2))
        for _ in range(rng.randint(0, 3)):
            purchase(member, rng.randint(50, 3000))
        if n % 7 == 0:
            adjust_points(member=member, amount=30, reason="goodwill", actor=user)
    create_endpoint(url="https://a.example.com/", event_types="*")
    create_endpoint(url="https://b.example.com/", event_types="tier.*, points.*", include_personal_data=True)
    create_endpoint(url="https://c.example.com/", event_types="member.first_purchase,growth.changed")
    paused, _ = create_endpoint(url="https://d.example.com/", event_types="member.*", include_personal_data=True)
    pause_endpoint(endpoint=paused)
    create_endpoint(url="https://e.example.com/", event_types="job.*")  # nothing of its types
    outbox.number_batches()
    last = OutboxNumbering.objects.get().last_position

    assert create_deliveries_between(0, last) > 100
    set_based = made()
    Delivery.objects.all().delete()
    create_deliveries(list(outbox.events_between(0, last)))
    per_event = made()

    assert set_based == per_event
    types = {row[2] for row in set_based}
    assert {"member.enrolled", "points.earned", "growth.changed", "points.adjusted"} <= types
    assert any('"contact"' in row[4] for row in set_based)
