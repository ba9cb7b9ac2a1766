"""The set-based batch path gives exactly what recording the same events one by one gives."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q

from loyalty.audit import audit
from loyalty.models import Event, GrowthEntry, PointsEntry, RuleHit, TierChange
from loyalty.services import enrol_member, record_events
from loyalty.services.events import record_events_one_by_one
from members.errors import LoyaltyError
from members.models import Member
from members.services import freeze_member
from tests.helpers import local, record

pytestmark = pytest.mark.django_db

MEMBERS = 6
START = local(2026, 6, 1, 9)


def _twin_members(user) -> None:
    """Members a0..a5 and b0..b5 with the same histories (recorded under sources a and b)."""
    for twin in "ab":
        for n in range(MEMBERS):
            member = enrol_member(external_id=f"{twin}{n}", joined_at=START - timedelta(days=30))
            record(
                member,
                "purchase",
                source=twin,
                event_id=f"old-1-{n}",
                occurred_at=START - timedelta(days=3),
                amount=Decimal(400 * n + 50),
                order_id="old-order",
            )
            record(member, "check_in", source=twin, event_id=f"old-2-{n}", occurred_at=START - timedelta(hours=2))
        freeze_member(member=Member.objects.get(external_id=f"{twin}{MEMBERS - 1}"))


def _random_batch(rng: random.Random, size: int) -> list:
    """Events for members 0..5 (5 is frozen, 9 does not exist), with replays, conflicts, repeated
    order ids, returns, limits across local midnight and invalid input."""
    batch = []
    for n in range(size):
        member = rng.choice([0, 1, 2, 3, 4, 4, 5, 9])
        at = START + timedelta(hours=rng.randrange(0, 40))
        roll = rng.random()
        event = {"event_id": f"e{n}", "member": member, "occurred_at": at.isoformat()}
        if roll < 0.35:
            event |= {
                "type": "purchase",
                "amount": f"{rng.randrange(1, 300000) / 100:.2f}",
                "order_id": f"o{rng.randrange(size // 2)}",
            }
        elif roll < 0.6:
            event |= {"type": "check_in"}
        elif roll < 0.7:
            event |= {"type": "review"}
        elif roll < 0.75:
            event |= {"type": "return", "amount": "10.00", "original_order_id": rng.choice(["old-order", "o1"])}
        elif roll < 0.8:
            event = {
                "event_id": f"old-{rng.choice([1, 2])}-{rng.choice([member, 2])}",
                "member": member,
                "type": "check_in",
                "occurred_at": (START - timedelta(hours=2)).isoformat(),
            }
        elif roll < 0.85:
            event |= {"type": "unboxing"}
        elif roll < 0.9:
            event |= {"type": "purchase", "amount": "-5", "order_id": "bad"}
        elif roll < 0.95:
            earlier = [e for e in batch if isinstance(e, dict)]
            event = dict(rng.choice(earlier)) if earlier else event | {"type": "review"}
        else:
            event = "not an object"
        batch.append(event)
    return batch


def _for_twin(batch: list, twin: str) -> list:
    return [dict(e, member=f"{twin}{e['member']}") if isinstance(e, dict) else e for e in batch]


def _summary(result) -> tuple:
    if isinstance(result, LoyaltyError):
        return ("error", result.code, sorted(result.fields))
    event = result.event
    return (
        result.applied,
        event.event_id,
        event.growth_delta,
        event.points_delta,
        event.tier_after.code,
        event.tier_changed,
    )


def _state(twin: str) -> dict:
    members = Member.objects.filter(external_id__startswith=twin).order_by("external_id")
    mine = Q(member__external_id__startswith=twin)

    def rows(model, *fields):
        return sorted(model.objects.filter(mine).values_list(*fields), key=str)

    return {
        "members": [
            (
                m.external_id[1:],
                m.growth_value,
                m.points_available,
                m.points_pending,
                m.tier.code,
                m.purchase_count,
                m.purchase_amount,
                m.last_activity_at,
                m.last_purchase_at,
            )
            for m in members
        ],
        "events": rows(
            Event,
            "event_id",
            "event_type",
            "occurred_at",
            "amount",
            "growth_delta",
            "points_delta",
            "tier_after__code",
            "tier_changed",
        ),
        "rule_hits": rows(RuleHit, "event__event_id", "rule__code", "local_day", "growth", "points"),
        "growth": rows(GrowthEntry, "event__event_id", "kind", "amount", "remaining", "expires_at"),
        "points": sorted(
            (
                (
                    p.event.event_id if p.event else "",
                    p.kind,
                    p.amount,
                    p.remaining,
                    p.expires_at,
                    p.available_at,
                    p.released_at is None,
                )
                for p in PointsEntry.objects.filter(mine).select_related("event")
            ),
            key=str,
        ),
        "tier_changes": rows(
            TierChange, "event__event_id", "from_tier__code", "to_tier__code", "reason", "growth_value"
        ),
    }


@pytest.mark.parametrize("seed", range(12))
def test_a_random_batch_has_the_effects_of_recording_it_event_by_event(program, user, configure_program, seed):
    rng = random.Random(seed)
    configure_program(pending_days=rng.choice([0, 7]))
    _twin_members(user)
    batch = _random_batch(rng, rng.choice([5, 40, 120]))

    set_based = record_events(source="a", events=_for_twin(batch, "a"))
    twin_b = _for_twin(batch, "b")
    one_by_one = record_events_one_by_one(source="b", events=twin_b, indexes=list(range(len(batch))))

    assert [_summary(r) for r in set_based] == [_summary(one_by_one[i]) for i in range(len(batch))]
    assert _state("a") == _state("b")
    assert audit() == []


def test_a_batch_of_earning_events_writes_with_a_fixed_number_of_queries(program, django_assert_max_num_queries):
    for n in range(50):
        enrol_member(external_id=f"m{n}")
    batch = [
        {
            "event_id": f"e{n}",
            "member": f"m{n % 50}",
            "type": ("purchase", "check_in", "review")[n % 3],
            "amount": "88.00",
            "order_id": f"o{n}",
        }
        for n in range(300)
    ]
    # SQLite takes at most 999 parameters a statement, so its bulk inserts of the ~900 outbox rows
    # come in several statements.
    with django_assert_max_num_queries(40 if connection.vendor == "postgresql" else 60):
        results = record_events(source="shop", events=batch)
    assert all(not isinstance(r, LoyaltyError) and r.applied for r in results)
    assert audit() == []


def test_a_member_with_a_return_in_the_batch_keeps_the_order_of_their_events(program):
    enrol_member(external_id="m1")
    results = record_events(
        source="shop",
        events=[
            {"event_id": "1", "member": "m1", "type": "purchase", "amount": "100.00", "order_id": "o1"},
            {"event_id": "2", "member": "m1", "type": "return", "amount": "40.00", "original_order_id": "o1"},
        ],
    )
    assert [r.event.growth_delta for r in results] == [100, -40]
    assert Member.objects.get(external_id="m1").growth_value == 60
    assert audit() == []


def test_a_batch_counts_daily_limits_per_day_and_lifetime_limits_over_all_days(program, make_rule):
    """Lifetime counts are read only for rules with a lifetime limit; a daily limit sees its day."""
    make_rule("survey", growth=1, daily_limit=2, lifetime_limit=3)
    make_rule("visit", growth=1, daily_limit=1)
    enrol_member(external_id="m")
    day_one, day_two = START, START + timedelta(days=1)

    def batch(prefix, at, kinds):
        events = [
            {"event_id": f"{prefix}{n}", "member": "m", "type": kind, "occurred_at": at.isoformat()}
            for n, kind in enumerate(kinds)
        ]
        return [outcome.event.growth_delta for outcome in record_events(source="t", events=events)]

    assert batch("a", day_one, ["survey", "survey", "survey", "visit", "visit"]) == [1, 1, 0, 1, 0]
    assert batch("b", day_two, ["survey", "survey", "visit", "visit"]) == [1, 0, 1, 0]


def test_a_chunk_that_collides_with_a_concurrent_write_is_recorded_one_by_one(program, monkeypatch):
    """The set-based write fails on the unique event id when a concurrent request stored the event
    after this chunk looked; the chunk is then recorded one by one, so the event is a replay."""
    from loyalty.services import event_batch

    enrol_member(external_id="m")
    body = {"event_id": "e1", "member": "m", "type": "check_in", "occurred_at": START.isoformat()}
    [first] = record_events(source="t", events=[body])
    monkeypatch.setattr(event_batch, "_earlier_events", lambda *args: ({}, set()))  # looked before it was stored
    [again] = record_events(source="t", events=[body])
    assert (first.applied, again.applied, again.event.pk) == (True, False, first.event.pk)
    assert Event.objects.filter(event_id="e1").count() == 1


def test_a_batch_reports_what_it_stored_when_the_database_fails_before_the_one_by_one_part(program, monkeypatch):
    """The set-based chunks committed; the database then fails as the one-by-one part (a return)
    starts. The stored event is reported and only the other is refused, never the whole batch."""
    from django.db import OperationalError

    from loyalty.services import events as single_path

    for external_id in ("a", "b"):
        enrol_member(external_id=external_id)
    record(Member.objects.get(external_id="b"), "purchase", amount=Decimal("100"), order_id="o-1")

    class Unanswered:
        class objects:  # noqa: N801 - stands in for Member.objects
            @staticmethod
            def filter(**kwargs):
                raise OperationalError("the database stopped answering")

    monkeypatch.setattr(single_path, "Member", Unanswered)
    check_in = {"event_id": "s-1", "member": "a", "type": "check_in", "occurred_at": START.isoformat()}
    refund = {"event_id": "s-2", "member": "b", "type": "return", "amount": "10", "original_order_id": "o-1"}
    stored, refused = record_events(source="s", events=[check_in, refund])
    assert stored.applied and stored.event.event_id == "s-1"
    assert isinstance(refused, LoyaltyError) and refused.code == "service_unavailable"
    assert list(Event.objects.filter(source="s").values_list("event_id", flat=True)) == ["s-1"]
