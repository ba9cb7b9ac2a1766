"""Real concurrency on PostgreSQL: threads with their own connections racing on one member.

SQLite serialises writers on the whole file, so these races only mean something on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.errors import InsufficientPoints
from loyalty.models import Event, GrowthEntry, PointsEntry, RuleHit
from loyalty.services import enrol_member, record_event, spend_points
from members.errors import MemberExists
from members.models import Member
from tests.helpers import assert_ledger_consistent, local

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL (row locks and concurrent writers); set DATABASE_URL",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
]

THREADS = 10


def race(count: int, work) -> list[tuple[str, object]]:
    """Run work(i) in `count` threads released together; each result is ("ok", value) or ("error", exc)."""
    barrier = threading.Barrier(count)
    results: list[tuple[str, object] | None] = [None] * count

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = ("ok", work(i))
        except Exception as exc:  # the test inspects what each thread got
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def values(results) -> list:
    errors = [value for kind, value in results if kind == "error"]
    assert not errors, f"unexpected errors: {errors!r}"
    return [value for _, value in results]


def test_same_event_delivered_at_once_is_applied_exactly_once(member, tiers):
    def deliver(_):
        outcome = record_event(
            source="shop",
            event_id="evt-race",
            member=member.external_id,
            event_type="purchase",
            occurred_at=local(2026, 6, 1, 12),
            amount="688.80",  # crosses bronze's 500: the waiting deliveries find the member upgraded
            order_id="o-race",
        )
        event = outcome.event
        return outcome.applied, event.pk, event.growth_delta, event.points_delta, event.tier_after_id

    outcomes = values(race(THREADS, deliver))
    assert sum(1 for applied, *_ in outcomes if applied) == 1
    assert len({tuple(result) for _, *result in outcomes}) == 1, "every delivery returns the same result"
    assert Event.objects.count() == 1
    assert GrowthEntry.objects.count() == 1
    assert PointsEntry.objects.count() == 1
    assert RuleHit.objects.count() == 1
    member.refresh_from_db()
    assert (member.growth_value, member.points_available, member.purchase_count) == (688, 688, 1)
    assert member.tier == tiers["bronze"]


def test_concurrent_purchases_that_upgrade_the_member_all_apply(member, tiers):
    def buy(i):
        return record_event(
            source="shop",
            event_id=f"evt-{i}",
            member=member.external_id,
            event_type="purchase",
            occurred_at=local(2026, 6, 1, 12),
            amount="700",
            order_id=f"o-{i}",
        ).applied

    assert values(race(THREADS, buy)) == [True] * THREADS
    member.refresh_from_db()
    assert member.growth_value == 700 * THREADS
    assert member.tier == tiers["gold"]  # 7000
    assert_ledger_consistent(member)


def test_concurrent_spends_never_overdraw(member, give_points):
    give_points(member, 150)

    def spend(i):
        return spend_points(member=member, amount=100, reason="coupon", source="shop", reference=f"r-{i}").pk

    results = race(5, spend)
    kinds = Counter(kind for kind, _ in results)
    assert kinds == {"ok": 1, "error": 4}
    assert all(isinstance(value, InsufficientPoints) for kind, value in results if kind == "error")
    member.refresh_from_db()
    assert member.points_available == 50
    assert not PointsEntry.objects.filter(remaining__lt=0).exists()
    assert_ledger_consistent(member)


def test_concurrent_spends_with_one_reference_spend_once(member, give_points):
    give_points(member, 500)

    def spend(_):
        return spend_points(member=member, amount=100, reason="coupon", source="shop", reference="same").pk

    spend_ids = values(race(5, spend))
    assert len(set(spend_ids)) == 1
    member.refresh_from_db()
    assert member.points_available == 400


def test_concurrent_check_ins_on_one_day_earn_once(member):
    def check_in(i):
        return record_event(
            source="app",
            event_id=f"check-in-{i}",
            member=member.external_id,
            event_type="check_in",
            occurred_at=local(2026, 6, 1, 8) + timedelta(minutes=i),
        ).event.growth_delta

    assert sorted(values(race(THREADS, check_in))) == [0] * (THREADS - 1) + [5]
    member.refresh_from_db()
    assert member.growth_value == 5


def test_concurrent_different_events_keep_balances_equal_to_the_ledgers(member, give_points):
    give_points(member, 1000)
    kinds = ["purchase", "review", "photo_review", "invite", "complaint", "violation", "spend", "purchase"]

    def act(i):
        kind = kinds[i]
        if kind == "spend":
            return spend_points(member=member, amount=150, reason="coupon", source="shop", reference="s").amount
        fields = {"amount": f"{100 + i}.50", "order_id": f"o-{i}"} if kind == "purchase" else {}
        return record_event(
            source="shop",
            event_id=f"evt-{i}",
            member=member.external_id,
            event_type=kind,
            occurred_at=timezone.now() - timedelta(minutes=i + 1),
            **fields,
        ).event.growth_delta

    values(race(len(kinds), act))
    assert Event.objects.count() == len(kinds) - 1
    assert_ledger_consistent(member)
    member.refresh_from_db()
    assert member.growth_value == sum(Event.objects.values_list("growth_delta", flat=True))


def test_concurrent_enrolment_of_one_external_id_creates_one_member(program):
    def enrol(_):
        return enrol_member(external_id="race-1").pk

    results = race(THREADS, enrol)
    created = [value for kind, value in results if kind == "ok"]
    refused = [value for kind, value in results if kind == "error"]
    assert len(created) == 1
    assert all(isinstance(exc, MemberExists) for exc in refused)
    assert Member.objects.filter(external_id="race-1").count() == 1
