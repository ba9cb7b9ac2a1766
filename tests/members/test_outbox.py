"""The outbox (members.outbox): every change someone outside may care about writes its domain events
in its own transaction — exactly once, none when it rolls back, none for a dry run — numbered per
member in the order of the changes, with payloads that carry no personal data."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.utils import timezone

from loyalty.errors import InsufficientPoints
from loyalty.services import adjust_points, enrol_member, spend_points
from loyalty.services.adjustments import approve_adjustments, request_adjustments
from loyalty.services.jobs import run_job_now
from members.models import DomainEvent
from members.outbox import publish
from members.services import freeze_member, update_member
from tests.factories import UserFactory
from tests.helpers import purchase, record

pytestmark = pytest.mark.django_db


def published(external_id: str) -> list[tuple[int, str, dict]]:
    rows = DomainEvent.objects.filter(member_external_id=external_id).order_by("member_sequence")
    return list(rows.values_list("member_sequence", "type", "payload"))


def types(external_id: str) -> list[str]:
    return [event_type for _, event_type, _ in published(external_id)]


def test_each_change_writes_its_events_once_numbered_in_the_order_of_the_changes(program, tiers, user):
    member = enrol_member(external_id="alice", email="alice@example.com")
    purchase(member, "600", order_id="o-1", event_id="e-1")  # bronze at 500
    record(member, "check_in", event_id="e-2")
    spend_points(member=member, amount=100, reason="coupon", source="mall", reference="r-1")
    adjust_points(member=member, amount=50, reason="goodwill", actor=user)
    freeze_member(member=member)

    assert types("alice") == [
        "member.enrolled",
        "points.earned",
        "growth.changed",
        "tier.upgraded",
        "member.first_purchase",
        "points.earned",
        "growth.changed",
        "points.spent",
        "points.adjusted",
        "member.status_changed",
    ]
    events = published("alice")
    in_commit_order = DomainEvent.objects.filter(member_external_id="alice").order_by("batch_id", "member_sequence")
    assert [sequence for sequence, _, _ in events] == list(in_commit_order.values_list("member_sequence", flat=True))
    assert len({sequence for sequence, _, _ in events}) == 10
    assert events[0][2] == {"tier": "normal", "referrer": None}
    assert events[1][2] == {"points": 600, "pending": False, "event_id": "e-1", "source": "shop"}
    assert events[3][2] == {"from": "normal", "to": "bronze", "reason": "upgrade", "event_id": "e-1", "source": "shop"}
    assert events[4][2]["order_id"] and events[4][2]["event_id"] == "e-1"  # the first purchase
    assert events[7][2]["points"] == 100 and events[7][2]["reference"] == "r-1"
    assert events[9][2] == {"from": "active", "to": "frozen"}
    count = DomainEvent.objects.count()

    # Replays change nothing, so they publish nothing.
    purchase(member, "600", order_id="o-1", event_id="e-1")
    spend_points(member=member, amount=100, reason="coupon", source="mall", reference="r-1")
    assert DomainEvent.objects.count() == count


def test_pending_points_say_when_they_become_available(program, configure_program):
    configure_program(pending_days=7)
    member = enrol_member(external_id="alice")
    purchase(member, "100", order_id="o-1", occurred_at=timezone.now() - timedelta(hours=1))
    earned = DomainEvent.objects.get(type="points.earned").payload
    assert earned["pending"] is True and earned["available_at"]


def test_a_change_that_is_rolled_back_leaves_no_event(program, user):
    member = enrol_member(external_id="alice")
    before = DomainEvent.objects.count()
    with pytest.raises(InsufficientPoints):
        spend_points(member=member, amount=10, reason="coupon", source="mall")
    with pytest.raises(RuntimeError), transaction.atomic():
        adjust_points(member=member, amount=50, reason="goodwill", actor=user)
        raise RuntimeError("the caller's transaction fails after the change")
    assert DomainEvent.objects.count() == before

    approver = UserFactory()
    approver.user_permissions.add(Permission.objects.get(codename="approve_adjustment"))
    [pending] = request_adjustments(
        members=[member], kind="points", amount=-5_000, reason="correction", requested_by=user
    )
    with pytest.raises(InsufficientPoints):
        approve_adjustments(adjustment_ids=[pending.pk], approver=type(approver).objects.get(pk=approver.pk))
    assert types("alice")[-1] == "adjustment.requested", "the refused approval published nothing"


def test_a_dry_run_writes_no_event_and_the_real_run_writes_them(program, give_points):
    member = enrol_member(external_id="alice")
    give_points(member, 300, expires_at=timezone.now() + timedelta(days=1))
    before = DomainEvent.objects.count()
    later = timezone.now() + timedelta(days=2)
    run_job_now(job="expire_points", as_of=later, dry_run=True)
    assert DomainEvent.objects.count() == before
    run_job_now(job="expire_points", as_of=later)
    assert types("alice")[-1] == "points.expired"
    assert published("alice")[-1][2] == {"points": 300}
    finished = DomainEvent.objects.get(type="job.finished")
    assert (finished.member_id, finished.member_sequence, finished.payload["job"]) == (None, None, "expire_points")
    assert finished.payload["status"] == "done" and finished.payload["members_changed"] == 1


def test_payloads_carry_no_personal_data(program):
    member = enrol_member(external_id="alice", name="Alice Liddell", email="alice@example.com", phone="13800000000")
    update_member(member=member, changes={"email": "new@example.com", "phone": "13900000000", "name": "Alice L."})
    update_member(member=member, changes={"name": "Alice L."})  # nothing changed: nothing published
    assert types("alice") == ["member.enrolled", "member.updated"]
    assert published("alice")[1][2] == {"fields": ["email", "name", "phone"]}
    everything = str(list(DomainEvent.objects.values_list("payload", flat=True)))
    for personal in ("Alice", "example.com", "138000", "139000"):
        assert personal not in everything


def test_money_and_moments_are_written_as_text(program):
    """Decimal and datetime values reach the JSON as strings (DjangoJSONEncoder), never floats."""
    member = enrol_member(external_id="alice")
    with transaction.atomic():
        publish("member.updated", member=member, payload={"amount": Decimal("19.90"), "at": timezone.now()})
    payload = DomainEvent.objects.filter(type="member.updated").get().payload
    assert payload["amount"] == "19.90" and isinstance(payload["at"], str)


def test_publishing_outside_a_transaction_is_refused(program):
    """An event written outside the change's transaction could outlive a change that rolled back."""
    member = enrol_member(external_id="alice")
    atomic, connection.in_atomic_block = connection.in_atomic_block, False
    try:
        with pytest.raises(RuntimeError, match="transaction"):
            publish("member.updated", member=member, payload={})
    finally:
        connection.in_atomic_block = atomic


def test_event_ids_are_unique_version_7_uuids_in_the_order_they_were_written(program, tiers, give_points):
    """The id is the webhook message id: a UUIDv7 (RFC 9562), unique, and time-ordered; on PostgreSQL
    made from the time and the event's number, so events written in one statement, by a job too,
    sort in the order they were numbered."""
    started = timezone.now()
    members = [enrol_member(external_id=f"m-{n}") for n in range(3)]
    for member in members:
        give_points(member, 100, expires_at=started + timedelta(days=1))
    run_job_now(job="expire_points", as_of=started + timedelta(days=2))

    events = list(DomainEvent.objects.order_by("batch_id", "member_sequence"))
    assert len({event.id for event in events}) == len(events) == 10  # 3 enrolled, adjusted and expired; the job
    for event in events:
        assert (event.id.version, event.id.variant) == (7, uuid.RFC_4122)
        milliseconds = event.id.int >> 80
        assert started.timestamp() * 1000 - 1 <= milliseconds <= timezone.now().timestamp() * 1000 + 1
        if connection.vendor == "postgresql" and event.member_id:
            assert event.id.int & (2**62 - 1) == event.member_sequence
    expired = [event.id for event in events if event.type == "points.expired"]
    assert expired == sorted(expired)
