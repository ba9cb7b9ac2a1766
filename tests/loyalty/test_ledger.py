"""Ledger integrity: database constraints on entries, append-only history, balances equal the ledgers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.models import GrowthAllocation, GrowthEntry, PointsAllocation, PointsEntry
from loyalty.services import (
    adjust_growth,
    adjust_points,
    expire_growth,
    expire_points,
    refund_spend,
    release_pending_points,
    spend_points,
)
from members.models import Member
from tests.helpers import assert_ledger_consistent, local, purchase, record, refund

pytestmark = pytest.mark.django_db

LATER = local(2027, 6, 1)


def refused(model, **fields) -> bool:
    """True when the database refuses to insert the row."""
    try:
        with transaction.atomic():
            model.objects.create(**fields)
    except IntegrityError:
        return True
    return False


# --- constraints ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"kind": "adjust", "amount": 0}, id="zero-adjust"),
        pytest.param({"kind": "earn", "amount": 0, "remaining": 0}, id="zero-earn"),
        pytest.param({"kind": "earn", "amount": -5}, id="negative-earn"),
        pytest.param({"kind": "deduct", "amount": 5, "remaining": 5}, id="positive-deduct"),
        pytest.param({"kind": "reverse", "amount": 5, "remaining": 5}, id="positive-reverse"),
        pytest.param({"kind": "expire", "amount": 5, "remaining": 5}, id="positive-expire"),
        pytest.param({"kind": "earn", "amount": 10, "remaining": -1}, id="negative-remaining"),
        pytest.param({"kind": "earn", "amount": 10, "remaining": 11}, id="remaining-above-amount"),
        pytest.param({"kind": "deduct", "amount": -5, "remaining": 0}, id="debit-with-remaining"),
        pytest.param({"kind": "deduct", "amount": -5, "expires_at": LATER}, id="debit-with-expiry"),
    ],
)
def test_database_refuses_an_inconsistent_growth_entry(member, fields):
    assert refused(GrowthEntry, member=member, **fields)


def test_database_refuses_a_growth_lot_without_remaining(member):
    assert refused(GrowthEntry, member=member, kind="earn", amount=10, remaining=None)


def test_database_accepts_a_well_formed_growth_lot(member):
    # The control for the refusals above: the same insert with valid values goes through.
    assert not refused(GrowthEntry, member=member, kind="earn", amount=10, remaining=10, expires_at=LATER)


POINTS_LOT = {"available_at": LATER}


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"kind": "adjust", "amount": 0, **POINTS_LOT}, id="zero-adjust"),
        pytest.param({"kind": "earn", "amount": 0, "remaining": 0, **POINTS_LOT}, id="zero-earn"),
        pytest.param({"kind": "refund", "amount": -5}, id="negative-refund"),
        pytest.param({"kind": "spend", "amount": 5, "remaining": 5, **POINTS_LOT}, id="positive-spend"),
        pytest.param({"kind": "earn", "amount": 10, "remaining": -1, **POINTS_LOT}, id="negative-remaining"),
        pytest.param({"kind": "earn", "amount": 10, "remaining": 10}, id="lot-without-available-at"),
    ],
)
def test_database_refuses_an_inconsistent_points_entry(member, fields):
    assert refused(PointsEntry, member=member, **fields)


def test_database_refuses_a_points_lot_without_remaining(member):
    assert refused(PointsEntry, member=member, kind="earn", amount=10, remaining=None, **POINTS_LOT)


def test_database_refuses_a_second_expiry_of_one_lot(member, give_points):
    lot = give_points(member, 100, expires_at=local(2027, 1, 1))
    expire_points(member=member, as_of=local(2027, 1, 1))
    assert refused(PointsEntry, member=member, kind="expire", amount=-1, expired_lot=lot)


def test_database_refuses_an_empty_allocation(member):
    lot = GrowthEntry.objects.create(member=member, kind="earn", amount=10, remaining=10)
    debit = GrowthEntry.objects.create(member=member, kind="deduct", amount=-1)
    assert refused(GrowthAllocation, debit=debit, lot=lot, amount=0)


def test_database_refuses_negative_cached_balances(member):
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(points_available=-1)


# --- append-only history and balances ---------------------------------------------------------------


def run_scenario(member, user):
    """Earning, pending, a spend and its partial refund, returns, deductions, adjustments, expiry."""
    now = timezone.now()
    purchase(member, "1000", order_id="o-1", occurred_at=local(2026, 1, 15, 14))
    purchase(member, "250.50", order_id="o-2", occurred_at=now - timedelta(days=2))  # pending
    record(member, "check_in", occurred_at=local(2026, 3, 1, 9))
    record(member, "review", occurred_at=local(2026, 3, 1, 10))
    spend = spend_points(member=member, amount=300, reason="coupon", source="shop", reference="s-1")
    refund_spend(spend=spend, amount=120, reason="order cancelled")
    refund(member, "o-1", "333.33", occurred_at=now - timedelta(days=1))
    refund(member, "o-2", "100", occurred_at=now - timedelta(days=1))
    record(member, "violation", occurred_at=now - timedelta(hours=2))
    adjust_points(member=member, amount=75, reason="goodwill", actor=user)
    adjust_growth(member=member, amount=-20, reason="correction", actor=user)
    release_pending_points(member=member, as_of=now + timedelta(days=7))
    expire_points(member=member, as_of=local(2027, 1, 16))
    expire_growth(member=member, as_of=local(2027, 1, 16))


def test_balances_equal_the_ledgers_after_a_mixed_scenario(member, user, configure_program):
    configure_program(pending_days=7)
    run_scenario(member, user)
    assert_ledger_consistent(member)


def test_scenario_moves_every_balance(member, user, configure_program):
    # Guards the scenario above against becoming vacuous: every kind of entry was written.
    configure_program(pending_days=7)
    run_scenario(member, user)
    assert set(GrowthEntry.objects.values_list("kind", flat=True)) == {"earn", "reverse", "deduct", "adjust", "expire"}
    assert set(PointsEntry.objects.values_list("kind", flat=True)) == {
        "earn",
        "spend",
        "refund",
        "reverse",
        "deduct",
        "adjust",
        "expire",
    }
    assert PointsAllocation.objects.exists() and GrowthAllocation.objects.exists()


def test_later_operations_never_rewrite_earlier_entries(member, user, configure_program):
    configure_program(pending_days=7)
    purchase(member, "1000", order_id="o-1", occurred_at=local(2026, 1, 15, 14))
    record(member, "check_in", occurred_at=local(2026, 3, 1, 9))
    snapshot = {
        model: {
            row[0]: row[1:] for row in model.objects.values_list("pk", "kind", "amount", "created_at", "expires_at")
        }
        for model in (GrowthEntry, PointsEntry)
    }
    spend = spend_points(member=member, amount=300, reason="coupon", source="shop")
    refund_spend(spend=spend, reason="cancelled")
    refund(member, "o-1", "500", occurred_at=timezone.now() - timedelta(days=1))
    expire_points(member=member, as_of=local(2027, 1, 16))
    expire_growth(member=member, as_of=local(2027, 1, 16))
    for model, rows in snapshot.items():
        now_rows = {
            row[0]: row[1:]
            for row in model.objects.filter(pk__in=rows).values_list("pk", "kind", "amount", "created_at", "expires_at")
        }
        assert now_rows == rows
