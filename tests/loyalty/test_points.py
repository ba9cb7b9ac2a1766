"""Points: pending and release, spending soonest-expiring first, refunds of spends, adjustments, expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.errors import IdempotencyConflict, InsufficientPoints, RefundExceedsSpend
from loyalty.models import PointsEntry
from loyalty.services import adjust_points, expire_points, refund_spend, release_pending_points, spend_points
from members.errors import InvalidInput
from tests.helpers import assert_ledger_consistent, ledger_counts, local, purchase, record

pytestmark = pytest.mark.django_db


def spend(member, amount, reference="", source="shop", reason="redeem coupon"):
    return spend_points(member=member, amount=amount, reason=reason, source=source, reference=reference)


def taken_from(entry) -> list[tuple[int, int]]:
    """(lot pk, amount) for each lot a debit took from, in the order taken."""
    return [(a.lot_id, a.amount) for a in entry.allocations.order_by("id")]


# --- pending ----------------------------------------------------------------------------------------


def test_purchase_points_are_pending_during_the_return_window(member, configure_program):
    configure_program(pending_days=7)
    purchase(member, "100", occurred_at=timezone.now() - timedelta(days=1))
    member.refresh_from_db()
    assert (member.points_pending, member.points_available) == (100, 0)
    assert_ledger_consistent(member)


def test_pending_lot_becomes_available_pending_days_after_the_purchase(member, configure_program):
    configure_program(pending_days=7)
    occurred = timezone.now() - timedelta(days=1)
    outcome = purchase(member, "100", occurred_at=occurred)
    lot = PointsEntry.objects.get(event=outcome.event)
    assert lot.available_at == occurred + timedelta(days=7)
    assert lot.released_at is None


def test_purchase_growth_is_not_pending(member, configure_program):
    configure_program(pending_days=7)
    purchase(member, "100", occurred_at=timezone.now() - timedelta(days=1))
    member.refresh_from_db()
    assert member.growth_value == 100


def test_non_purchase_points_are_available_at_once(member, configure_program):
    configure_program(pending_days=7)
    record(member, "check_in", occurred_at=timezone.now() - timedelta(hours=1))
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (2, 0)


def test_purchase_reported_after_its_window_is_available_at_once(member, configure_program):
    configure_program(pending_days=7)
    purchase(member, "100", occurred_at=timezone.now() - timedelta(days=30))
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (100, 0)


def test_without_pending_days_purchase_points_are_available_at_once(member):
    purchase(member, "100", occurred_at=timezone.now() - timedelta(minutes=1))
    member.refresh_from_db()
    assert (member.points_available, member.points_pending) == (100, 0)


def test_release_before_the_window_ends_releases_nothing(member, configure_program):
    configure_program(pending_days=7)
    occurred = timezone.now() - timedelta(days=1)
    purchase(member, "100", occurred_at=occurred)
    released = release_pending_points(member=member, as_of=occurred + timedelta(days=7, seconds=-1))
    member.refresh_from_db()
    assert released == 0
    assert (member.points_pending, member.points_available) == (100, 0)


def test_release_when_the_window_ends_makes_points_available(member, configure_program):
    configure_program(pending_days=7)
    occurred = timezone.now() - timedelta(days=1)
    outcome = purchase(member, "100", occurred_at=occurred)
    released = release_pending_points(member=member, as_of=occurred + timedelta(days=7))
    member.refresh_from_db()
    assert released == 100
    assert (member.points_pending, member.points_available) == (0, 100)
    assert PointsEntry.objects.get(event=outcome.event).released_at == occurred + timedelta(days=7)
    assert_ledger_consistent(member)


def test_release_is_not_repeated(member, configure_program):
    configure_program(pending_days=7)
    occurred = timezone.now() - timedelta(days=1)
    purchase(member, "100", occurred_at=occurred)
    release_pending_points(member=member, as_of=occurred + timedelta(days=7))
    assert release_pending_points(member=member, as_of=occurred + timedelta(days=8)) == 0
    member.refresh_from_db()
    assert member.points_available == 100


def test_pending_points_cannot_be_spent(member, configure_program, give_points):
    configure_program(pending_days=7)
    give_points(member, 50)
    purchase(member, "100", occurred_at=timezone.now() - timedelta(days=1))
    with pytest.raises(InsufficientPoints):
        spend(member, 100)


def test_partner_points_import_converts_the_amount_and_is_available_at_once(member, configure_program):
    configure_program(pending_days=7)
    outcome = record(member, "points_import", amount="250", occurred_at=timezone.now() - timedelta(hours=1))
    member.refresh_from_db()
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (0, 250)
    assert member.points_available == 250


# --- spending ---------------------------------------------------------------------------------------


@pytest.fixture
def three_lots(member, configure_program, give_points):
    """A never-expiring lot, then one expiring in March, then one expiring in January (100 each)."""
    configure_program(points_expiry_policy="never")
    never = give_points(member, 100)
    configure_program(points_expiry_policy="rolling_months")
    march = give_points(member, 100, expires_at=local(2027, 3, 1))
    january = give_points(member, 100, expires_at=local(2027, 1, 1))
    assert never.expires_at is None
    return never, march, january


def test_spend_takes_soonest_expiring_lots_first_and_never_expiring_last(member, three_lots):
    never, march, january = three_lots
    entry = spend(member, 250)
    assert taken_from(entry) == [(january.pk, 100), (march.pk, 100), (never.pk, 50)]
    assert_ledger_consistent(member)


def test_spend_reduces_available_points(member, give_points):
    give_points(member, 300)
    entry = spend(member, 120, reference="order-9")
    member.refresh_from_db()
    assert member.points_available == 180
    assert (entry.kind, entry.amount, entry.source, entry.reference) == ("spend", -120, "shop", "order-9")


def test_spend_of_the_whole_balance_leaves_zero(member, give_points):
    give_points(member, 300)
    spend(member, 300)
    member.refresh_from_db()
    assert member.points_available == 0
    assert_ledger_consistent(member)


def test_spend_beyond_available_is_refused_and_writes_nothing(member, give_points):
    give_points(member, 99)
    before = ledger_counts()
    with pytest.raises(InsufficientPoints):
        spend(member, 100)
    member.refresh_from_db()
    assert member.points_available == 99
    assert ledger_counts() == before


def test_same_source_and_reference_returns_the_first_spend(member, give_points):
    give_points(member, 300)
    first = spend(member, 100, reference="order-1")
    again = spend(member, 100, reference="order-1")
    member.refresh_from_db()
    assert again.pk == first.pk
    assert member.points_available == 200


def test_same_reference_from_another_source_is_another_spend(member, give_points):
    give_points(member, 300)
    first = spend(member, 100, reference="order-1", source="web")
    second = spend(member, 100, reference="order-1", source="pos")
    member.refresh_from_db()
    assert first.pk != second.pk
    assert member.points_available == 100


def test_same_reference_for_a_different_amount_is_a_conflict(member, give_points):
    give_points(member, 300)
    spend(member, 100, reference="order-1")
    with pytest.raises(IdempotencyConflict):
        spend(member, 150, reference="order-1")
    member.refresh_from_db()
    assert member.points_available == 200


def test_same_reference_for_another_member_is_a_conflict(make_member, give_points):
    first, second = make_member(), make_member()
    give_points(first, 300)
    give_points(second, 300)
    spend(first, 100, reference="order-1")
    with pytest.raises(IdempotencyConflict):
        spend(second, 100, reference="order-1")
    second.refresh_from_db()
    assert second.points_available == 300


def test_spend_needs_a_reason(member, give_points):
    give_points(member, 300)
    with pytest.raises(InvalidInput) as exc:
        spend(member, 100, reason=" ")
    assert "reason" in exc.value.fields


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_spend_amount_must_be_a_positive_whole_number(member, give_points, amount):
    give_points(member, 300)
    with pytest.raises(InvalidInput) as exc:
        spend(member, amount)
    assert "amount" in exc.value.fields


# --- refunding a spend ------------------------------------------------------------------------------


@pytest.fixture
def spent(member, give_points):
    """Lots of 100 expiring in January and in March; a spend of 150 took January's 100 and 50 of March."""
    january = give_points(member, 100, expires_at=local(2027, 1, 1))
    march = give_points(member, 100, expires_at=local(2027, 3, 1))
    entry = spend(member, 150)
    assert taken_from(entry) == [(january.pk, 100), (march.pk, 50)]
    return entry


def test_full_refund_gives_the_points_back_with_their_lots_expiry(member, spent):
    refunds = refund_spend(spend=spent, reason="order cancelled")
    member.refresh_from_db()
    assert member.points_available == 200
    assert sorted((r.amount, r.expires_at) for r in refunds) == [(50, local(2027, 3, 1)), (100, local(2027, 1, 1))]
    assert all(r.kind == "refund" and r.refunded_spend_id == spent.pk for r in refunds)
    assert_ledger_consistent(member)


def test_partial_refunds_give_back_the_last_consumed_points_first(member, spent):
    first = refund_spend(spend=spent, amount=60, reason="one item cancelled")
    rest = refund_spend(spend=spent, reason="the rest cancelled")
    assert [(r.amount, r.expires_at) for r in first] == [(50, local(2027, 3, 1)), (10, local(2027, 1, 1))]
    assert [(r.amount, r.expires_at) for r in rest] == [(90, local(2027, 1, 1))]
    member.refresh_from_db()
    assert member.points_available == 200


def test_refund_beyond_the_spend_is_refused(member, spent):
    with pytest.raises(RefundExceedsSpend):
        refund_spend(spend=spent, amount=151, reason="too much")
    member.refresh_from_db()
    assert member.points_available == 50


def test_refunds_beyond_the_spend_in_total_are_refused(member, spent):
    refund_spend(spend=spent, amount=100, reason="part")
    before = ledger_counts()
    with pytest.raises(RefundExceedsSpend):
        refund_spend(spend=spent, amount=51, reason="too much")
    assert ledger_counts() == before
    member.refresh_from_db()
    assert member.points_available == 150


def test_refunding_a_fully_refunded_spend_again_is_refused(member, spent):
    refund_spend(spend=spent, reason="all cancelled")
    before = ledger_counts()
    with pytest.raises(RefundExceedsSpend, match="already been refunded in full"):
        refund_spend(spend=spent, reason="again")
    assert ledger_counts() == before


def test_a_spend_never_takes_points_whose_expiry_has_passed(member, give_points):
    overdue = give_points(member, 80, expires_at=timezone.now() - timedelta(hours=1))
    fresh = give_points(member, 50, expires_at=timezone.now() + timedelta(days=30))
    with pytest.raises(InsufficientPoints):
        spend(member, 100)
    entry = spend(member, 50)
    assert taken_from(entry) == [(fresh.pk, 50)]
    expired = PointsEntry.objects.get(kind="expire", expired_lot=overdue)
    assert expired.amount == -80
    member.refresh_from_db()
    assert member.points_available == 0
    assert_ledger_consistent(member)


# --- manual adjustments -----------------------------------------------------------------------------


def test_adjustment_adds_an_available_lot_by_the_staff_user(member, user):
    entry = adjust_points(member=member, amount=500, reason="complaint goodwill", actor=user)
    member.refresh_from_db()
    assert member.points_available == 500
    assert (entry.kind, entry.actor, entry.reason) == ("adjust", user, "complaint goodwill")


def test_adjustment_needs_an_actor(member):
    with pytest.raises(InvalidInput) as exc:
        adjust_points(member=member, amount=500, reason="goodwill", actor=None)
    assert "actor" in exc.value.fields
    assert not PointsEntry.objects.exists()


def test_adjustment_needs_a_reason(member, user):
    with pytest.raises(InvalidInput) as exc:
        adjust_points(member=member, amount=500, reason="", actor=user)
    assert "reason" in exc.value.fields
    assert not PointsEntry.objects.exists()


def test_adjustment_of_zero_is_refused(member, user):
    with pytest.raises(InvalidInput):
        adjust_points(member=member, amount=0, reason="nothing", actor=user)


def test_negative_adjustment_takes_available_points(member, user, give_points):
    give_points(member, 500)
    adjust_points(member=member, amount=-200, reason="fraud", actor=user)
    member.refresh_from_db()
    assert member.points_available == 300
    assert_ledger_consistent(member)


def test_negative_adjustment_beyond_the_balance_is_refused(member, user, give_points):
    give_points(member, 100)
    before = ledger_counts()
    with pytest.raises(InsufficientPoints):
        adjust_points(member=member, amount=-101, reason="fraud", actor=user)
    member.refresh_from_db()
    assert member.points_available == 100
    assert ledger_counts() == before


# --- expiry -----------------------------------------------------------------------------------------


def test_lot_expiring_exactly_at_as_of_expires(member, give_points):
    lot = give_points(member, 100, expires_at=local(2027, 1, 1))
    expired = expire_points(member=member, as_of=local(2027, 1, 1))
    member.refresh_from_db()
    assert expired == 100
    assert member.points_available == 0
    entry = PointsEntry.objects.get(kind="expire")
    assert (entry.amount, entry.expired_lot_id) == (-100, lot.pk)


def test_lot_expiring_a_second_after_as_of_is_kept(member, give_points):
    give_points(member, 100, expires_at=local(2027, 1, 1, 0, 0, 1))
    assert expire_points(member=member, as_of=local(2027, 1, 1)) == 0
    member.refresh_from_db()
    assert member.points_available == 100


def test_only_the_remainder_of_a_partly_spent_lot_expires(member, give_points):
    give_points(member, 100, expires_at=local(2027, 1, 1))
    give_points(member, 100, expires_at=local(2027, 6, 1))
    spend(member, 30)
    assert expire_points(member=member, as_of=local(2027, 1, 1)) == 70
    member.refresh_from_db()
    assert member.points_available == 100
    assert_ledger_consistent(member)


def test_expiry_is_not_repeated(member, give_points):
    give_points(member, 100, expires_at=local(2027, 1, 1))
    expire_points(member=member, as_of=local(2027, 1, 1))
    assert expire_points(member=member, as_of=local(2027, 2, 1)) == 0
    assert PointsEntry.objects.filter(kind="expire").count() == 1


def test_expired_points_cannot_be_spent(member, give_points):
    give_points(member, 100, expires_at=local(2027, 1, 1))
    expire_points(member=member, as_of=local(2027, 1, 1))
    with pytest.raises(InsufficientPoints):
        spend(member, 1)
