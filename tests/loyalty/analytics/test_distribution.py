from decimal import Decimal

import pytest

from loyalty.analytics.distribution import TierCount, tier_distribution
from loyalty.analytics.report import ReportOptions, distribution_report
from members.models import Member
from tests.factories import MemberFactory


def ladder(*members: int) -> list[TierCount]:
    names = ["Normal", "Bronze", "Silver", "Gold", "Platinum", "Diamond"]
    return [
        TierCount(name.lower(), name, rank, rank * 1000, n)
        for rank, (name, n) in enumerate(zip(names, members, strict=True))
    ]


def checks(distribution) -> list[str]:
    return sorted(finding.check for finding in distribution.findings)


def test_shares_and_top_three_share_of_a_healthy_pyramid():
    result = tier_distribution(ladder(450, 250, 140, 80, 50, 30))
    assert result.total == 1000
    assert [t.share for t in result.tiers] == [Decimal(s) for s in ("0.45", "0.25", "0.14", "0.08", "0.05", "0.03")]
    assert result.top_share == Decimal("0.16")
    assert result.findings == []  # 16% is within 20% ± 5 points


def test_the_articles_bad_ladder_is_flagged_step_by_step():
    """Single digits, tens, hundreds and 100,000+ (lowest tier first here: 100,000 at the bottom)."""
    result = tier_distribution(ladder(100_000, 500, 40, 7, 0, 3))
    assert checks(result) == ["adjacent_ratio", "empty_tier", "inversion", "top_share"]
    ratio = next(f for f in result.findings if f.check == "adjacent_ratio")
    assert "Normal (100,000) and Bronze (500) differ 200-fold" in ratio.message
    inversion = next(f for f in result.findings if f.check == "inversion")
    assert "Diamond holds more members (3) than Platinum below it (0)" in inversion.message
    assert "Platinum holds no members" in next(f for f in result.findings if f.check == "empty_tier").message


def test_a_thirty_fold_step_is_still_allowed_and_the_target_is_the_operators():
    result = tier_distribution(ladder(3000, 100, 90, 80, 70, 60), top_share_target=Decimal("0.06"))
    assert checks(result) == []  # 3000/100 is exactly 30x; top three 210/3400 = 6.2%
    result = tier_distribution(ladder(3001, 100, 90, 80, 70, 60), top_share_target=Decimal("0.06"))
    assert checks(result) == ["adjacent_ratio"]


def test_top_share_above_the_target_says_so():
    result = tier_distribution(ladder(10, 9, 8, 7, 6, 5))
    finding = next(f for f in result.findings if f.check == "top_share")
    assert "hold 40.0% of members, above the target of 20.0% ± 5.0%" in finding.message


def test_no_members_is_one_finding():
    assert [f.check for f in tier_distribution(ladder(0, 0, 0, 0, 0, 0)).findings] == ["empty_tier"]


@pytest.mark.django_db
def test_the_report_counts_members_per_tier_leaving_closed_members_out(tiers):
    for code, count in (("normal", 3), ("bronze", 2), ("gold", 1)):
        MemberFactory.create_batch(count, tier=tiers[code])
    MemberFactory(tier=tiers["gold"], status=Member.Status.CLOSED)
    result = distribution_report(ReportOptions())
    assert [(t.code, t.members) for t in result.tiers] == [
        ("normal", 3),
        ("bronze", 2),
        ("silver", 0),
        ("gold", 1),
        ("platinum", 0),
        ("diamond", 0),
    ]
    assert result.total == 6
    assert result.top_share == Decimal("0.1667")
    assert "inversion" in checks(result)  # gold 1 > silver 0
