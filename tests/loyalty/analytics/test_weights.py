from datetime import timedelta
from decimal import Decimal

import pytest

from loyalty.analytics.report import weights_report
from loyalty.analytics.weights import RuleUse, weight_matrix
from tests.factories import MemberFactory
from tests.helpers import record

TIERS = [("normal", "Normal", 4), ("bronze", "Bronze", 2), ("silver", "Silver", 0)]
RULES = [("check_in", "Check-in"), ("review", "Review"), ("login", "Login")]


def test_cells_are_shares_of_the_tier_and_growth_per_member_who_triggered_the_rule():
    uses = [
        RuleUse("normal", "check_in", 2, 30),
        RuleUse("bronze", "check_in", 2, 50),
        RuleUse("normal", "review", 1, 10),
    ]
    matrix = weight_matrix(TIERS, RULES, uses)
    assert matrix.cells[("normal", "check_in")].share == Decimal("0.5")
    assert matrix.cells[("normal", "check_in")].average_growth == Decimal("15.00")
    assert matrix.cells[("bronze", "check_in")].share == Decimal("1")
    assert matrix.cells[("silver", "check_in")].share == Decimal("0")  # an empty tier
    flags = {rule.code: (rule.unused, rule.flat) for rule in matrix.rules}
    assert flags == {"check_in": (False, False), "review": (False, False), "login": (True, False)}


def test_a_rule_used_alike_by_every_tier_is_flat():
    uses = [RuleUse("normal", "check_in", 2, 20), RuleUse("bronze", "check_in", 1, 10)]
    matrix = weight_matrix(TIERS, RULES, uses)
    check_in = next(rule for rule in matrix.rules if rule.code == "check_in")
    assert (check_in.flat, check_in.spread) == (True, Decimal("0"))  # 50% in both tiers with members
    matrix = weight_matrix(TIERS, RULES, uses, flat_spread=Decimal("-1"))
    assert not next(rule for rule in matrix.rules if rule.code == "check_in").flat


@pytest.mark.django_db
def test_the_report_reads_rule_hits_of_the_period_by_the_members_current_tier(tiers, give_growth, as_of):
    normal_a, normal_b, bronze = MemberFactory(), MemberFactory(), give_growth(MemberFactory(), 600)
    for days in (1, 2):
        record(normal_a, "check_in", occurred_at=as_of - timedelta(days=days))
    record(normal_a, "review", occurred_at=as_of - timedelta(days=1))
    record(bronze, "check_in", occurred_at=as_of - timedelta(days=3))
    record(normal_b, "check_in", occurred_at=as_of - timedelta(days=40))  # before the period
    report = weights_report(30, as_of)
    assert report.last_day - report.first_day == timedelta(days=29)
    cells = report.matrix.cells
    assert (cells[("normal", "check_in")].share, cells[("normal", "check_in")].average_growth) == (
        Decimal("0.5"),
        Decimal("10.00"),  # two check-ins of 5
    )
    assert cells[("bronze", "check_in")].share == Decimal("1")
    assert cells[("normal", "review")].average_growth == Decimal("10.00")
    unused = {rule.code for rule in report.matrix.rules if rule.unused}
    assert "login" in unused and "check_in" not in unused


def test_a_rule_too_rare_in_every_tier_is_not_called_flat():
    uses = [RuleUse("normal", "review", 0, 0), RuleUse("bronze", "review", 0, 0), RuleUse("normal", "login", 0, 0)]
    tiers = [("normal", "Normal", 100), ("bronze", "Bronze", 50)]
    matrix = weight_matrix(
        tiers, RULES, [*uses, RuleUse("normal", "check_in", 4, 20), RuleUse("bronze", "check_in", 1, 5)]
    )
    check_in = next(rule for rule in matrix.rules if rule.code == "check_in")
    assert (check_in.unused, check_in.flat, check_in.spread) == (False, False, Decimal("0.02"))  # 4% and 2%
