"""Growth adjustments and expiry, scheduled tier recalculation, manual tier changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from loyalty.models import GrowthEntry, TierChange
from loyalty.services import adjust_growth, change_tier_manually, expire_growth, recalculate_member_tier
from members.errors import InvalidInput
from tests.helpers import assert_ledger_consistent, ledger_counts, local, purchase, record

pytestmark = pytest.mark.django_db

AS_OF = local(2026, 11, 1)


# --- manual growth adjustments ----------------------------------------------------------------------


def test_growth_adjustment_upgrades_at_once(member, user, tiers):
    entry = adjust_growth(member=member, amount=500, reason="VIP migration", actor=user)
    member.refresh_from_db()
    assert member.growth_value == 500
    assert member.tier == tiers["bronze"]
    assert (entry.kind, entry.actor, entry.reason) == ("adjust", user, "VIP migration")
    assert TierChange.objects.get(member=member, reason=TierChange.Reason.UPGRADE).to_tier == tiers["bronze"]


def test_negative_growth_adjustment_takes_growth_without_downgrading(member, user, tiers, give_growth):
    give_growth(member, 600)
    adjust_growth(member=member, amount=-200, reason="fraudulent orders", actor=user)
    member.refresh_from_db()
    assert member.growth_value == 400
    assert member.tier == tiers["bronze"]
    assert_ledger_consistent(member)


def test_negative_growth_adjustment_beyond_the_balance_is_refused(member, user, give_growth):
    give_growth(member, 100)
    before = ledger_counts()
    with pytest.raises(InvalidInput) as exc:
        adjust_growth(member=member, amount=-101, reason="fraud", actor=user)
    assert "amount" in exc.value.fields
    assert ledger_counts() == before
    member.refresh_from_db()
    assert member.growth_value == 100


def test_growth_adjustment_needs_an_actor(member):
    with pytest.raises(InvalidInput) as exc:
        adjust_growth(member=member, amount=100, reason="goodwill", actor=None)
    assert "actor" in exc.value.fields
    assert not GrowthEntry.objects.exists()


def test_growth_adjustment_needs_a_reason(member, user):
    with pytest.raises(InvalidInput) as exc:
        adjust_growth(member=member, amount=100, reason="  ", actor=user)
    assert "reason" in exc.value.fields
    assert not GrowthEntry.objects.exists()


def test_growth_adjustment_of_zero_is_refused(member, user):
    with pytest.raises(InvalidInput):
        adjust_growth(member=member, amount=0, reason="nothing", actor=user)


# --- growth expiry ----------------------------------------------------------------------------------


def test_growth_lot_leaving_its_window_exactly_at_as_of_expires(member):
    purchase(member, "100", occurred_at=local(2026, 1, 15, 14))  # window ends 2027-01-16 00:00
    purchase(member, "40", occurred_at=local(2026, 1, 16, 9))  # window ends 2027-01-17 00:00
    assert expire_growth(member=member, as_of=local(2027, 1, 16)) == 100
    member.refresh_from_db()
    assert member.growth_value == 40
    assert_ledger_consistent(member)


def test_growth_lot_leaving_its_window_a_second_after_as_of_is_kept(member):
    purchase(member, "100", occurred_at=local(2026, 1, 15, 14))
    assert expire_growth(member=member, as_of=local(2027, 1, 16) - timedelta(seconds=1)) == 0
    member.refresh_from_db()
    assert member.growth_value == 100


def test_only_the_remainder_of_a_partly_deducted_growth_lot_expires(member):
    purchase(member, "100", occurred_at=local(2026, 1, 15, 14))
    record(member, "complaint", occurred_at=local(2026, 2, 1))  # -50
    assert expire_growth(member=member, as_of=local(2027, 1, 16)) == 50
    member.refresh_from_db()
    assert member.growth_value == 0
    assert_ledger_consistent(member)


def test_growth_expiry_leaves_the_tier_to_the_recalculation(member, tiers):
    purchase(member, "600", occurred_at=local(2026, 1, 15, 14))
    expire_growth(member=member, as_of=local(2027, 1, 16))
    member.refresh_from_db()
    assert member.growth_value == 0
    assert member.tier == tiers["bronze"]


# --- scheduled recalculation ------------------------------------------------------------------------


@pytest.fixture
def fallen_gold(member, user, give_growth, tiers):
    """A gold member whose growth has dropped to 100."""
    give_growth(member, 6000)
    adjust_growth(member=member, amount=-5900, reason="growth window", actor=user)
    member.refresh_from_db()
    assert (member.tier, member.growth_value) == (tiers["gold"], 100)
    return member


def test_never_policy_keeps_the_tier(fallen_gold, configure_program, tiers):
    configure_program(downgrade_policy="never")
    assert recalculate_member_tier(member=fallen_gold, period="2026-11", as_of=AS_OF) is None
    fallen_gold.refresh_from_db()
    assert fallen_gold.tier == tiers["gold"]


def test_one_tier_policy_drops_one_tier(fallen_gold, configure_program, tiers):
    configure_program(downgrade_policy="one_tier")
    change = recalculate_member_tier(member=fallen_gold, period="2026-11", as_of=AS_OF)
    fallen_gold.refresh_from_db()
    assert fallen_gold.tier == tiers["silver"]
    assert (change.reason, change.period, change.from_tier, change.to_tier) == (
        TierChange.Reason.RECALCULATION,
        "2026-11",
        tiers["gold"],
        tiers["silver"],
    )
    assert change.created_at == AS_OF


def test_to_qualifying_policy_drops_to_the_qualifying_tier(fallen_gold, configure_program, tiers):
    configure_program(downgrade_policy="to_qualifying")
    recalculate_member_tier(member=fallen_gold, period="2026-11", as_of=AS_OF)
    fallen_gold.refresh_from_db()
    assert fallen_gold.tier == tiers["normal"]


def test_only_one_change_per_period(fallen_gold, configure_program, tiers):
    configure_program(downgrade_policy="one_tier")
    recalculate_member_tier(member=fallen_gold, period="2026-11", as_of=AS_OF)
    assert recalculate_member_tier(member=fallen_gold, period="2026-11", as_of=AS_OF) is None
    fallen_gold.refresh_from_db()
    assert fallen_gold.tier == tiers["silver"]


def test_the_next_period_may_drop_another_tier(fallen_gold, configure_program, tiers):
    configure_program(downgrade_policy="one_tier")
    recalculate_member_tier(member=fallen_gold, period="2026-11", as_of=AS_OF)
    recalculate_member_tier(member=fallen_gold, period="2026-12", as_of=local(2026, 12, 1))
    fallen_gold.refresh_from_db()
    assert fallen_gold.tier == tiers["bronze"]


@pytest.mark.parametrize("policy", ["never", "one_tier", "to_qualifying"])
def test_recalculation_applies_a_missed_upgrade(member, user, give_growth, configure_program, tiers, policy):
    configure_program(downgrade_policy=policy)
    give_growth(member, 6500)  # gold
    change_tier_manually(member=member, tier=tiers["normal"], actor=user, reason="test: lost upgrade")
    change = recalculate_member_tier(member=member, period="2026-11", as_of=AS_OF)
    member.refresh_from_db()
    assert member.tier == tiers["gold"]
    assert change.to_tier == tiers["gold"]


def test_recalculation_without_a_change_records_nothing(member, give_growth, configure_program):
    configure_program(downgrade_policy="to_qualifying")
    give_growth(member, 700)  # bronze, still qualifies
    assert recalculate_member_tier(member=member, period="2026-11", as_of=AS_OF) is None
    assert not TierChange.objects.filter(member=member, reason=TierChange.Reason.RECALCULATION).exists()


# --- manual tier changes ----------------------------------------------------------------------------


def test_manual_tier_change_is_recorded_with_actor_and_reason(member, user, tiers):
    change = change_tier_manually(member=member, tier=tiers["platinum"], actor=user, reason="celebrity")
    member.refresh_from_db()
    assert member.tier == tiers["platinum"]
    assert (change.reason, change.actor, change.note) == (TierChange.Reason.MANUAL, user, "celebrity")
    assert (change.from_tier, change.to_tier) == (tiers["normal"], tiers["platinum"])


def test_manual_change_to_the_current_tier_is_refused(member, user, tiers):
    with pytest.raises(InvalidInput):
        change_tier_manually(member=member, tier=tiers["normal"], actor=user, reason="no-op")
    assert not TierChange.objects.filter(member=member).exists()


def test_manual_tier_change_needs_a_reason(member, user, tiers):
    with pytest.raises(InvalidInput):
        change_tier_manually(member=member, tier=tiers["gold"], actor=user, reason=" ")
    member.refresh_from_db()
    assert member.tier == tiers["normal"]
