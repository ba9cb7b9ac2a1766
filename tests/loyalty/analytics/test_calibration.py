import random
from decimal import Decimal

import pytest

from loyalty.analytics.calibration import (
    Histogram,
    TargetError,
    calibrate,
    default_targets,
    parse_targets,
    propose_thresholds,
    readable,
    tier_shares,
)
from loyalty.analytics.report import calibration_report
from tests.factories import MemberFactory

SIX = [Decimal(p) / 100 for p in (45, 25, 14, 8, 5, 3)]
LADDER = [("normal", 0), ("bronze", 500), ("silver", 2000), ("gold", 6000), ("platinum", 15000), ("diamond", 40000)]


def histogram_of(values) -> Histogram:
    counts: dict[int, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return Histogram.from_counts(list(counts.items()))


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [(1234, 1, 1000), (1234, 2, 1200), (1250, 2, 1300), (1234, 3, 1230), (87, 1, 90), (7, 1, 7), (96, 1, 100)],
)
def test_readable_rounds_half_up_to_significant_digits(value, digits, expected):
    assert readable(value, digits) == expected


def test_histogram_counts_members_below_a_threshold():
    histogram = histogram_of([0, 0, 5, 5, 5, 9])
    assert [histogram.below(t) for t in (0, 1, 5, 6, 9, 10)] == [0, 2, 2, 5, 5, 6]
    assert histogram.total == 6


def test_hand_computed_population_splits_exactly_at_round_numbers():
    """One member at each growth value 0..99: 50/30/20 puts the thresholds at 50 and 80."""
    histogram = histogram_of(range(100))
    targets = [Decimal("0.5"), Decimal("0.3"), Decimal("0.2")]
    assert propose_thresholds(histogram, targets) == [(0, 0), (50, 50), (80, 80)]
    assert tier_shares(histogram, [0, 50, 80]) == targets


def test_rounding_is_kept_only_while_the_share_stays_within_half_a_point():
    """1,000 members at 1000..1999: the 45% boundary is 1450 exactly; 1000 or 1500 would move 45 or
    5 points, so only 1450 (3 significant digits) is within half a point."""
    histogram = histogram_of(range(1000, 2000))
    assert propose_thresholds(histogram, [Decimal("0.45"), Decimal("0.55")]) == [(0, 0), (1450, 1450)]
    # With fewer members per value, 2 digits suffice: 10,000 members at 0..99,999 step 10.
    histogram = histogram_of(range(0, 100_000, 10))
    assert propose_thresholds(histogram, [Decimal("0.452"), Decimal("0.548")])[1] == (45191, 45000)


def test_proposed_shares_are_within_one_point_of_the_target_on_a_synthetic_population():
    """A long-tailed population like real growth values: 20,000 members, log-normal, 8% never earned."""
    draw = random.Random(7)
    values = [0 if draw.random() < 0.08 else int(draw.lognormvariate(7, 1.4)) for _ in range(20_000)]
    histogram = histogram_of(values)
    result = calibrate(histogram, LADDER, SIX)
    for tier, target in zip(result, SIX, strict=True):
        assert abs(tier.proposed_share - target) <= Decimal("0.01"), tier
    proposed = [tier.proposed_threshold for tier in result]
    assert proposed == sorted(set(proposed)) and proposed[0] == 0
    # Readable: every proposed threshold has at most 3 significant digits.
    assert all(len(str(t).rstrip("0")) <= 3 for t in proposed[1:])
    assert [tier.current_threshold for tier in result] == [threshold for _code, threshold in LADDER]
    assert sum(tier.current_share for tier in result) == 1


def test_ties_cannot_be_split_and_the_threshold_stays_above_the_one_below():
    histogram = histogram_of([0] * 60 + [10] * 40)
    thresholds = propose_thresholds(histogram, [Decimal("0.3"), Decimal("0.3"), Decimal("0.4")])
    assert [new for _exact, new in thresholds] == [0, 1, 2]
    assert tier_shares(histogram, [0, 1, 2]) == [Decimal("0.6"), Decimal("0"), Decimal("0.4")]


def test_targets_are_parsed_in_percent_and_checked():
    assert parse_targets("45/25/14/8/5/3", 6) == SIX
    assert parse_targets("50, 50%", 2) == [Decimal("0.5"), Decimal("0.5")]
    with pytest.raises(TargetError, match="one target share per tier: 6, not 2"):
        parse_targets("50/50", 6)
    with pytest.raises(TargetError, match="add up to 100%, not 90%"):
        parse_targets("45/45", 2)
    with pytest.raises(TargetError, match="above zero"):
        parse_targets("100/0", 2)
    with pytest.raises(TargetError, match="numbers"):
        parse_targets("half/half", 2)


def test_default_targets_shrink_per_tier_and_add_up_to_100_percent():
    assert default_targets(6) == [Decimal(p) / 100 for p in (42, 25, 15, 9, 6, 3)]
    assert sum(default_targets(4)) == 1


@pytest.mark.django_db
def test_the_report_proposes_thresholds_from_members_growth_and_counts_the_moves(tiers, give_growth):
    for growth in (0, 0, 0, 0, 100, 100, 600, 600, 2500, 7000):
        member = MemberFactory()
        if growth:
            give_growth(member, growth)
    result = calibration_report(parse_targets("40/20/20/10/5/5", 6))
    assert [(t.code, t.proposed_threshold, t.proposed_share) for t in result.tiers[:4]] == [
        ("normal", 0, Decimal("0.4")),
        ("bronze", 1, Decimal("0.2")),  # the four members at 0 stay below; 100 qualifies for bronze
        ("silver", 101, Decimal("0.2")),
        ("gold", 601, Decimal("0.1")),
    ]
    assert result.tiers[3].current_share == Decimal("0.1")  # 7000 is gold today
    assert ("normal", "bronze", 2) in result.movements
    assert ("bronze", "silver", 2) in result.movements  # 600 is bronze today


@pytest.mark.django_db
def test_the_moves_follow_the_downgrade_policy_and_the_shares_say_holding_and_qualifying(
    tiers, give_growth, configure_program
):
    """Raising every threshold far above a gold member: `one_tier` takes them one tier down at the
    next recalculation, never two; `to_qualifying` all the way. Holding counts the tier held today,
    as the tier distribution page does; qualifying counts what the growth reaches."""
    gold = give_growth(MemberFactory(), 7000)  # gold
    fallen = give_growth(give_growth(MemberFactory(), 2500), -1900)  # silver held, 600 qualifies bronze
    targets = parse_targets("96/1/1/1/0.5/0.5", 6)

    configure_program(downgrade_policy="one_tier")
    one_tier = calibration_report(targets)
    assert ("gold", "silver", 1) in one_tier.movements
    assert not [move for move in one_tier.movements if move[:2] == ("gold", "normal")]
    holding = {tier.code: share for tier, _name, share in one_tier.rows}
    assert holding["silver"] == holding["gold"] == Decimal("0.5")
    assert {t.code: t.current_share for t in one_tier.tiers}["bronze"] == Decimal("0.5")  # qualifying
    assert [name for _tier, name, _share in one_tier.rows][0] == tiers["normal"].name

    configure_program(downgrade_policy="to_qualifying")
    moves = {(source, target) for source, target, _n in calibration_report(targets).movements}
    assert ("gold", "normal") in moves and fallen.tier.code == "silver" and gold.tier.code == "gold"
