"""Duplicate deliveries racing each other, on PostgreSQL with real threads."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from loyalty.models import Event, GrowthEntry, PointsEntry
from loyalty.services import enrol_member
from members.models import Member
from tests.helpers import ensure_default_program

from .conftest import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks: set DATABASE_URL"),
]

THREADS = 20


def test_the_same_event_from_20_threads_has_one_effect_and_identical_responses():
    ensure_default_program()  # an earlier transactional test may have flushed it
    enrol_member(external_id="racer")
    api = client_for("web shop")
    body = {"event_id": "race-1", "member": "racer", "type": "purchase", "amount": "888.80", "order_id": "o-race"}
    start = Barrier(THREADS)

    def deliver(_):
        try:
            start.wait()
            response = api.post("/api/v1/events/", body, format="json")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(deliver, range(THREADS)))

    statuses = sorted(status for status, _ in responses)
    assert statuses == [200] * (THREADS - 1) + [201]
    assert len({repr(sorted(body.items())) for _, body in responses}) == 1
    assert Event.objects.count() == 1
    assert list(GrowthEntry.objects.values_list("amount", flat=True)) == [888]
    assert list(PointsEntry.objects.values_list("amount", flat=True)) == [888]
    member = Member.objects.get(external_id="racer")
    assert (member.growth_value, member.points_available) == (888, 888)


def test_concurrent_batches_over_the_same_members_in_opposite_orders_all_apply():
    ensure_default_program()
    names = [f"m{i}" for i in range(30)]
    for name in names:
        enrol_member(external_id=name)
    api = client_for("web shop")
    forward = [{"event_id": f"f-{n}", "member": n, "type": "login"} for n in names]
    backward = [{"event_id": f"b-{n}", "member": n, "type": "review"} for n in reversed(names)]
    start = Barrier(2)

    def deliver(events):
        try:
            start.wait()
            return api.post("/api/v1/events/batch/", {"events": events}, format="json").json()["results"]
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(deliver, [forward, backward]))

    assert {r["status"] for batch in results for r in batch} == {"applied"}
    assert Event.objects.count() == 60
    assert all(m.growth_value == 1 + 10 for m in Member.objects.filter(external_id__in=names))
