"""The campaigns' arithmetic without a database (campaigns.earning): multipliers added to the tier's,
not compounded, under the cap; each campaign's whole share of one rounding; docs/campaigns.md's
worked example."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from campaigns import earning
from campaigns.terms import parse_terms
from loyalty import planner

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 12, 12, 4, 0, tzinfo=UTC)
PROGRAM = planner.Program(
    zone=SHANGHAI, pending_days=0, deducts_growth=True, growth_window=("none", 0), points_expiry=("none", 0), ladder=()
)


def rule(points_per_unit="1", growth_per_unit="0"):
    return SimpleNamespace(
        pk=1,
        code="purchase",
        name="Purchase",
        points=0,
        growth=0,
        points_per_unit=Decimal(points_per_unit),
        growth_per_unit=Decimal(growth_per_unit),
        apply_tier_multiplier=True,
        starts_at=None,
        ends_at=None,
        daily_limit=None,
        lifetime_limit=None,
        is_active=True,
    )


def member(multiplier: str):
    tier = SimpleNamespace(pk=1, code="gold", rank=3, threshold=0, points_multiplier=Decimal(multiplier))
    return planner.MemberState(0, 0, 0, tier, AT, None, None, 3, Decimal(0))


def campaign(code: str, priority: int = 0, **terms) -> earning.RunningCampaign:
    parsed = parse_terms("multiplier", {"event_types": ["purchase"], "priority": priority, **terms})
    return earning.RunningCampaign(1, code, code, 1, 1, parsed, "salt", 0)


def points(amount: str, tier: str, campaigns, cap: str = "5", rules=None) -> tuple[int, list[int]]:
    facts = planner.EventFacts("purchase", AT, Decimal(amount), "o1")
    state = member(tier)
    lines = planner.earning_lines(facts, state, PROGRAM, rules=rules or [rule()])
    added = earning.campaign_lines(
        facts,
        state,
        tuple(lines),
        earning.stacked(campaigns),
        member_key=7,
        setting=earning.Setting(SHANGHAI, Decimal(cap)),
        allowance=None,
    )
    base = planner.to_whole(sum((line.points for line in lines), Decimal(0)))
    shares = [int(line.points) for line in added]
    return base + sum(shares), shares


def test_the_worked_example_of_the_docs():
    total, shares = points(
        "10.55",
        "1.2",
        [campaign("double", 5, points_multiplier="2"), campaign("half-more", points_multiplier="1.5")],
        cap="2.5",
    )
    assert (total, shares) == (26, [11, 3])


def test_multipliers_add_to_the_tiers():
    total, shares = points("100", "1.2", [campaign("a", points_multiplier="2"), campaign("b", points_multiplier="1.5")])
    assert (total, shares) == (270, [100, 50])  # 1.2 + 1 + 0.5, never 1.2 x 2 x 1.5


def test_the_shares_sum_to_one_rounding_of_the_exact_total():
    # 0.9 + 0.2 + 0.5 = 1.6 rounds to 1; rounding each after the other's whole share would give 2
    total, _ = points(
        "1",
        "0.9",
        [campaign("a", 2, points_multiplier="1.2"), campaign("b", 1, points_multiplier="1.5")],
        rules=[rule()],
    )
    assert total == 1


def test_a_remembered_used_up_limit_and_a_locked_count_both_apply():
    """A per-member points limit remembered as used up leaves the growth; the grants count locked by
    the claim then refuses it: a second plan gives nothing rather than asking for the same again."""
    double = campaign(
        "double",
        points_multiplier="2",
        growth_multiplier="2",
        budget={"per_member_points": 10, "grants": 5},
    )
    facts = planner.EventFacts("purchase", AT, Decimal(100), "o1")
    state = member("1")
    lines = planner.earning_lines(facts, state, PROGRAM, rules=[rule(growth_per_unit="1")])
    counters = earning.counters_of(double, 7, AT.astimezone(SHANGHAI).date())
    exhausted = frozenset({counters["per_member_points"][0]})
    allowance = earning.Allowance({counters["grants"][0]: 0})

    added = earning.campaign_lines(
        facts,
        state,
        tuple(lines),
        [double],
        member_key=7,
        setting=earning.Setting(SHANGHAI, Decimal(5)),
        allowance=allowance,
        exhausted=exhausted,
    )

    assert [(int(line.growth), int(line.points)) for line in added] == [(0, 0)]
    assert added[0].desired == (100, 100)
