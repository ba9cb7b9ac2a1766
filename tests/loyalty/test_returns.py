"""Returns: cumulative, rounded-down reversal of a purchase's growth and points."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import OrderNotFound, RefundExceedsOrder
from loyalty.models import GrowthEntry, PointsEntry, TierChange
from loyalty.services import adjust_growth, change_tier_manually, release_pending_points, spend_points
from loyalty.services.jobs import run_job_now
from members.errors import InvalidInput
from tests.helpers import DAY, assert_ledger_consistent, ledger_counts, purchase, refund

pytestmark = pytest.mark.django_db


def balances(member) -> tuple[int, int, int]:
    member.refresh_from_db()
    return member.growth_value, member.points_available, member.points_pending


def test_full_return_reverses_all_growth_and_points_of_the_order(member):
    purchase(member, "100", order_id="o-1")
    outcome = refund(member, "o-1", "100")
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (-100, -100)
    assert balances(member) == (0, 0, 0)
    assert GrowthEntry.objects.get(event=outcome.event).kind == GrowthEntry.Kind.REVERSE
    assert PointsEntry.objects.get(event=outcome.event).kind == PointsEntry.Kind.REVERSE
    assert_ledger_consistent(member)


def test_partial_return_reverses_the_rounded_down_share(member):
    purchase(member, "99.99", order_id="o-1")  # earns 99 growth, 99 points
    outcome = refund(member, "o-1", "50")  # 99 x 50 / 99.99 = 49.50...
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (-49, -49)
    assert balances(member) == (50, 50, 0)


def test_repeated_partial_returns_adding_up_to_the_order_reverse_everything(member):
    purchase(member, "100", order_id="o-1")
    deltas = [refund(member, "o-1", amount).event.growth_delta for amount in ("33.33", "33.33", "33.34")]
    assert deltas == [-33, -33, -34]
    assert balances(member) == (0, 0, 0)
    assert_ledger_consistent(member)


def test_reversal_rounds_the_cumulative_share_not_each_return(member):
    purchase(member, "3.00", order_id="o-1")  # earns 3
    first = refund(member, "o-1", "1.50")
    second = refund(member, "o-1", "1.50")
    assert (first.event.growth_delta, second.event.growth_delta) == (-1, -2)
    assert balances(member) == (0, 0, 0)


def test_return_reverses_the_points_the_order_actually_earned_with_the_multiplier(member, give_growth):
    give_growth(member, 2000)  # silver, x1.1
    purchase(member, "100", order_id="o-1")  # 100 growth, 110 points
    outcome = refund(member, "o-1", "50")
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (-50, -55)


def test_with_downgrade_at_recalculation_a_full_return_keeps_the_tier(member, tiers, configure_program):
    configure_program(return_downgrade="at_recalculation")
    purchase(member, "600", order_id="o-1")
    outcome = refund(member, "o-1", "600")
    member.refresh_from_db()
    assert member.growth_value == 0
    assert member.tier == tiers["bronze"]
    assert outcome.event.tier_changed is False


def test_buy_up_to_diamond_and_return_everything_goes_straight_back(member, tiers):
    """The loophole: buying enough for Diamond, being upgraded at once, and returning it all kept
    Diamond until the recalculation (and with one_tier for five more months)."""
    purchase(member, "40000", order_id="o-1")
    member.refresh_from_db()
    assert member.tier == tiers["diamond"]
    outcome = refund(member, "o-1", "40000")
    member.refresh_from_db()
    assert (member.growth_value, member.tier) == (0, tiers["normal"])
    assert outcome.event.tier_changed is True
    assert outcome.event.tier_after == tiers["normal"]
    change = TierChange.objects.filter(member=member).latest("created_at", "id")
    assert (change.reason, change.from_tier, change.event) == ("return", tiers["diamond"], outcome.event)
    assert_ledger_consistent(member)


def test_a_partial_return_goes_back_only_to_the_tier_the_growth_still_qualifies_for(member, tiers):
    purchase(member, "7000", order_id="o-1")  # gold at 6000
    refund(member, "o-1", "3000")  # 4000 left: silver
    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    refund(member, "o-1", "500")  # 3500: still silver, nothing moves
    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    assert TierChange.objects.filter(member=member, reason="return").count() == 1


def test_never_below_the_tier_held_at_the_last_recalculation(member, tiers, give_growth, user):
    give_growth(member, 2500)  # silver
    run_job_now(job="recalculate_tiers")
    adjust_growth(member=member, amount=-1500, reason="test: a deduction", actor=user)  # 1000: bronze level
    purchase(member, "40000", order_id="o-1")
    refund(member, "o-1", "40000")
    member.refresh_from_db()
    assert member.growth_value == 1000
    assert member.tier == tiers["silver"], "the tier held at the recalculation is the floor"


def test_a_tier_held_at_the_last_recalculation_waits_for_the_next_one(member, tiers):
    purchase(member, "6000", order_id="o-1")  # gold
    run_job_now(job="recalculate_tiers")
    refund(member, "o-1", "6000")
    member.refresh_from_db()
    assert (member.growth_value, member.tier) == (0, tiers["gold"])


def test_a_tier_given_by_staff_is_not_taken_by_a_return(member, tiers, user):
    purchase(member, "600", order_id="o-1")
    change_tier_manually(member=member, tier=tiers["platinum"], actor=user, reason="celebrity")
    refund(member, "o-1", "600")
    member.refresh_from_db()
    assert member.tier == tiers["platinum"]


def test_returning_the_orders_one_at_a_time_goes_back_as_far_as_returning_them_at_once(member, tiers):
    """Splitting the purchase must not keep the tier: after the first return the latest tier move is
    a return, and the floor is still the tier held before the earning."""
    purchase(member, "2000", order_id="o-1")  # silver
    purchase(member, "4000", order_id="o-2")  # gold
    refund(member, "o-2", "4000")
    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    refund(member, "o-1", "2000")
    member.refresh_from_db()
    assert (member.growth_value, member.tier) == (0, tiers["normal"])
    returns = TierChange.objects.filter(member=member, reason="return").order_by("created_at", "id")
    assert list(returns.values_list("to_tier__code", flat=True)) == ["silver", "normal"]


def test_a_tier_given_by_staff_stays_the_floor_after_earning_above_it(member, tiers, user):
    change_tier_manually(member=member, tier=tiers["gold"], actor=user, reason="celebrity")
    purchase(member, "15000", order_id="o-1")  # platinum by earning
    member.refresh_from_db()
    assert member.tier == tiers["platinum"]
    refund(member, "o-1", "15000")
    member.refresh_from_db()
    assert (member.growth_value, member.tier) == (0, tiers["gold"])


def test_return_takes_the_order_pending_points_first(member, configure_program, give_points):
    configure_program(pending_days=7)
    give_points(member, 500)
    purchase(member, "100", order_id="o-1", occurred_at=timezone.now() - timedelta(days=1))
    refund(member, "o-1", "100", occurred_at=timezone.now() - timedelta(hours=1))
    assert balances(member) == (0, 500, 0)
    assert_ledger_consistent(member)


def test_return_takes_pending_points_before_available_ones_when_the_order_points_are_gone(
    member, configure_program, give_points
):
    configure_program(pending_days=7)
    purchase(member, "100", order_id="o-old", occurred_at=DAY)  # long released
    give_points(member, 200)  # expires later than the old order's lot
    spend_points(member=member, amount=100, reason="coupon", source="shop")  # takes o-old's lot
    purchase(member, "50", order_id="o-new", occurred_at=timezone.now() - timedelta(days=1))  # 50 pending
    refund(member, "o-old", "100", occurred_at=timezone.now() - timedelta(hours=1))
    member.refresh_from_db()
    assert (member.points_pending, member.points_available) == (0, 150)
    assert_ledger_consistent(member)


def test_release_after_a_partial_return_releases_what_is_left(member, configure_program):
    configure_program(pending_days=7)
    occurred = timezone.now() - timedelta(days=1)
    purchase(member, "100", order_id="o-1", occurred_at=occurred)
    refund(member, "o-1", "40", occurred_at=timezone.now() - timedelta(hours=1))
    assert release_pending_points(member=member, as_of=occurred + timedelta(days=7)) == 60
    assert balances(member) == (60, 60, 0)
    assert_ledger_consistent(member)


def test_return_after_the_points_were_spent_never_goes_negative(member, give_points):
    purchase(member, "100", order_id="o-1")
    spend_points(member=member, amount=80, reason="coupon", source="shop")
    outcome = refund(member, "o-1", "100")
    assert outcome.event.points_delta == -20
    assert balances(member) == (0, 0, 0)
    assert_ledger_consistent(member)


def test_return_lowers_the_purchase_amount_summary(member):
    purchase(member, "100", order_id="o-1")
    refund(member, "o-1", "30")
    member.refresh_from_db()
    assert member.purchase_amount == Decimal("70.00")


def test_refunds_beyond_the_order_in_total_are_refused_and_write_nothing(member):
    purchase(member, "100", order_id="o-1")
    refund(member, "o-1", "60")
    before = ledger_counts()
    with pytest.raises(RefundExceedsOrder):
        refund(member, "o-1", "50")
    assert ledger_counts() == before
    assert balances(member) == (40, 40, 0)


def test_the_rest_of_the_order_can_still_be_refunded_after_a_refused_refund(member):
    purchase(member, "100", order_id="o-1")
    refund(member, "o-1", "60")
    with pytest.raises(RefundExceedsOrder):
        refund(member, "o-1", "50")
    refund(member, "o-1", "40")
    assert balances(member) == (0, 0, 0)


def test_a_single_refund_above_the_order_is_refused(member):
    purchase(member, "100", order_id="o-1")
    with pytest.raises(RefundExceedsOrder):
        refund(member, "o-1", "100.01")
    assert balances(member) == (100, 100, 0)


def test_return_of_an_unknown_order_is_refused(member):
    before = ledger_counts()
    with pytest.raises(OrderNotFound):
        refund(member, "never-bought", "10")
    assert ledger_counts() == before


def test_return_of_another_members_order_is_refused(make_member):
    buyer, other = make_member(), make_member()
    purchase(buyer, "100", order_id="o-1")
    with pytest.raises(OrderNotFound):
        refund(other, "o-1", "100")
    assert balances(buyer) == (100, 100, 0)


def test_return_without_original_order_id_is_refused(member):
    purchase(member, "100", order_id="o-1")
    with pytest.raises(InvalidInput) as exc:
        refund(member, "", "10")
    assert "original_order_id" in exc.value.fields


def test_return_without_amount_is_refused(member):
    purchase(member, "100", order_id="o-1")
    with pytest.raises(InvalidInput) as exc:
        refund(member, "o-1", None)
    assert "amount" in exc.value.fields
