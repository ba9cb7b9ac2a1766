"""The pure rule arithmetic in loyalty.calculations: no database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty import calculations as calc
from loyalty.calculations import LadderError, TierStep
from tests.helpers import SHANGHAI, UTC, local


@dataclass
class Rule:
    growth: int = 0
    points: int = 0
    growth_per_unit: Decimal = Decimal("0")
    points_per_unit: Decimal = Decimal("0")
    apply_tier_multiplier: bool = False
    daily_limit: int | None = None
    lifetime_limit: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    is_active: bool = True


LADDER = [
    TierStep("normal", 0, 0),
    TierStep("bronze", 1, 500),
    TierStep("silver", 2, 2000),
    TierStep("gold", 3, 6000),
    TierStep("platinum", 4, 15000),
    TierStep("diamond", 5, 40000),
]
TIER = {step.code: step for step in LADDER}


# --- time -------------------------------------------------------------------------------------------


def test_local_day_is_the_day_in_the_program_zone():
    assert calc.local_day(datetime(2026, 3, 10, 16, 30, tzinfo=UTC), SHANGHAI) == date(2026, 3, 11)


def test_rolling_months_expiry_is_the_local_midnight_after_the_same_day_months_later():
    expires = calc.expiry_at(calc.ROLLING_MONTHS, 12, local(2026, 1, 15, 14, 0), SHANGHAI)
    assert expires == local(2027, 1, 16)


def test_rolling_months_expiry_counts_the_earning_day_in_the_program_zone():
    # 2026-01-15 20:00 UTC is already 2026-01-16 04:00 in Shanghai.
    expires = calc.expiry_at(calc.ROLLING_MONTHS, 12, datetime(2026, 1, 15, 20, 0, tzinfo=UTC), SHANGHAI)
    assert expires == local(2027, 1, 17)


def test_rolling_months_expiry_clamps_to_the_end_of_a_shorter_month():
    assert calc.expiry_at(calc.ROLLING_MONTHS, 1, local(2026, 1, 31, 9), SHANGHAI) == local(2026, 3, 1)


def test_calendar_year_expiry_is_the_first_of_january_of_the_year_after_next():
    assert calc.expiry_at(calc.CALENDAR_YEAR, 12, local(2026, 5, 10, 9), SHANGHAI) == local(2028, 1, 1)


def test_calendar_year_expiry_uses_the_local_year():
    # 2026-12-31 17:00 UTC is 2027-01-01 01:00 in Shanghai: earned in 2027.
    earned = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert calc.expiry_at(calc.CALENDAR_YEAR, 12, earned, SHANGHAI) == local(2029, 1, 1)


def test_never_expiry_is_none():
    assert calc.expiry_at(calc.NEVER, 12, local(2026, 5, 10), SHANGHAI) is None


def test_unknown_expiry_policy_is_an_error():
    with pytest.raises(ValueError):
        calc.expiry_at("fortnightly", 12, local(2026, 5, 10), SHANGHAI)


# --- earning ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Decimal("9.99"), 9), (Decimal("10"), 10), (Decimal("0.5"), 0), (Decimal("-9.99"), -9)],
)
def test_to_whole_rounds_toward_zero(value, expected):
    assert calc.to_whole(value) == expected


def test_inactive_rule_does_not_apply():
    assert not calc.rule_applies_at(Rule(is_active=False), local(2026, 6, 1))


def test_rule_applies_from_its_start_inclusive():
    rule = Rule(starts_at=local(2026, 6, 1))
    assert not calc.rule_applies_at(rule, local(2026, 5, 31, 23, 59, 59))
    assert calc.rule_applies_at(rule, local(2026, 6, 1))


def test_rule_stops_applying_at_its_end_exclusive():
    rule = Rule(ends_at=local(2026, 6, 1))
    assert calc.rule_applies_at(rule, local(2026, 5, 31, 23, 59, 59))
    assert not calc.rule_applies_at(rule, local(2026, 6, 1))


def test_daily_limit_allows_hits_below_it_and_refuses_at_it():
    rule = Rule(daily_limit=2)
    assert calc.rule_within_limits(rule, hits_today=1, hits_ever=50)
    assert not calc.rule_within_limits(rule, hits_today=2, hits_ever=50)


def test_lifetime_limit_allows_hits_below_it_and_refuses_at_it():
    rule = Rule(lifetime_limit=1)
    assert calc.rule_within_limits(rule, hits_today=0, hits_ever=0)
    assert not calc.rule_within_limits(rule, hits_today=0, hits_ever=1)


def test_rule_without_limits_is_always_within_them():
    assert calc.rule_within_limits(Rule(), hits_today=1000, hits_ever=100000)


def test_rule_earning_adds_fixed_and_per_unit_values_rounding_down():
    rule = Rule(growth=5, points=2, growth_per_unit=Decimal("1"), points_per_unit=Decimal("0.5"))
    assert calc.rule_earning(rule, Decimal("99.99"), Decimal("1")) == calc.Earning(growth=104, points=51)


def test_rule_earning_multiplies_points_only_when_the_rule_says_so():
    rule = Rule(growth_per_unit=Decimal("1"), points_per_unit=Decimal("1"), apply_tier_multiplier=True)
    assert calc.rule_earning(rule, Decimal("99.99"), Decimal("1.1")) == calc.Earning(growth=99, points=109)
    rule.apply_tier_multiplier = False
    assert calc.rule_earning(rule, Decimal("99.99"), Decimal("1.1")) == calc.Earning(growth=99, points=99)


def test_rule_earning_without_amount_counts_only_fixed_values():
    rule = Rule(growth=5, points=2, growth_per_unit=Decimal("1"))
    assert calc.rule_earning(rule, None, Decimal("1")) == calc.Earning(growth=5, points=2)


def test_negative_rule_values_are_deductions():
    assert calc.rule_earning(Rule(growth=-50), None, Decimal("1")) == calc.Earning(growth=-50, points=0)


def test_reversal_of_a_partial_refund_rounds_down():
    assert calc.reversal_due(99, Decimal("99.99"), Decimal("50"), 0) == 49


def test_reversal_is_cumulative_not_per_refund():
    # Two refunds of 1.50 on a 3.00 order that earned 3: 1 then 2 (per-refund rounding would give 1 + 1).
    assert calc.reversal_due(3, Decimal("3"), Decimal("1.5"), 0) == 1
    assert calc.reversal_due(3, Decimal("3"), Decimal("3"), 1) == 2


def test_full_refund_reverses_everything_earned():
    assert calc.reversal_due(109, Decimal("99.99"), Decimal("99.99"), 0) == 109


def test_nothing_is_due_when_nothing_was_earned():
    assert calc.reversal_due(0, Decimal("100"), Decimal("100"), 0) == 0


@given(
    earned=st.integers(min_value=0, max_value=100_000),
    cents=st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=8),
)
def test_repeated_refunds_reverse_exactly_the_rounded_down_share(earned, cents):
    order = Decimal(sum(cents)) / 100
    refunded, reversed_total = Decimal("0"), 0
    for part in cents:
        refunded += Decimal(part) / 100
        due = calc.reversal_due(earned, order, refunded, reversed_total)
        assert due >= 0
        reversed_total += due
        assert reversed_total == calc.to_whole(Decimal(earned) * refunded / order)
    assert reversed_total == earned


# --- tiers ------------------------------------------------------------------------------------------


def test_valid_ladder_is_returned_by_rank():
    assert calc.validate_ladder(reversed(LADDER)) == LADDER


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "at least one tier"),
        ([TierStep("a", 0, 10)], "threshold 0"),
        ([TierStep("a", 0, 0), TierStep("b", 1, 0)], "ascend"),
        ([TierStep("a", 0, 0), TierStep("b", 1, 500), TierStep("c", 2, 400)], "ascend"),
        ([TierStep("a", 0, 0), TierStep("a", 1, 500)], "unique"),
        ([TierStep("a", 0, 0), TierStep("b", 1, 500), TierStep("c", 1, 600)], "share rank"),
    ],
)
def test_invalid_ladder_is_refused_with_the_reason(steps, message):
    with pytest.raises(LadderError, match=message):
        calc.validate_ladder(steps)


def test_growth_equal_to_a_threshold_qualifies():
    assert calc.qualifying_tier(LADDER, 2000) == TIER["silver"]


def test_growth_one_below_a_threshold_does_not_qualify():
    assert calc.qualifying_tier(LADDER, 1999) == TIER["bronze"]


def test_growth_above_the_top_threshold_gives_the_top_tier():
    assert calc.qualifying_tier(LADDER, 10**9) == TIER["diamond"]


@pytest.mark.parametrize("policy", [calc.DOWNGRADE_NEVER, calc.DOWNGRADE_ONE_TIER, calc.DOWNGRADE_TO_QUALIFYING])
def test_recalculation_upgrades_under_every_policy(policy):
    assert calc.recalculated_tier(LADDER, TIER["normal"], 6500, policy) == TIER["gold"]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (calc.DOWNGRADE_NEVER, "gold"),
        (calc.DOWNGRADE_ONE_TIER, "silver"),
        (calc.DOWNGRADE_TO_QUALIFYING, "normal"),
    ],
)
def test_recalculation_downgrades_per_the_policy(policy, expected):
    assert calc.recalculated_tier(LADDER, TIER["gold"], 100, policy) == TIER[expected]


def test_recalculation_keeps_a_tier_that_still_qualifies():
    assert calc.recalculated_tier(LADDER, TIER["gold"], 6000, calc.DOWNGRADE_TO_QUALIFYING) == TIER["gold"]


def test_unknown_downgrade_policy_is_an_error():
    with pytest.raises(ValueError):
        calc.recalculated_tier(LADDER, TIER["gold"], 100, "halve")


# --- lots -------------------------------------------------------------------------------------------


def test_consumption_takes_lots_in_order_until_covered():
    takes, short = calc.plan_consumption([("a", 30), ("b", 0), ("c", 50), ("d", 10)], 60)
    assert [(t.lot, t.amount) for t in takes] == [("a", 30), ("c", 30)]
    assert short == 0


def test_consumption_reports_what_it_could_not_cover():
    takes, short = calc.plan_consumption([("a", 30), ("b", 20)], 80)
    assert sum(t.amount for t in takes) == 50
    assert short == 30


@pytest.mark.parametrize(
    ("period_format", "expected"),
    [
        ("%Y-%m-%dT%H", datetime(2026, 12, 31, 23, 0, tzinfo=SHANGHAI)),
        ("%Y-%m-%d", datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)),
        ("%Y-%m", datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI)),
    ],
)
def test_the_next_period_starts_at_the_next_hour_day_or_month_in_the_programs_zone(period_format, expected):
    now = datetime(2026, 12, 31, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    assert calc.next_period_start(period_format, now, SHANGHAI) == expected
