"""Weight completion by tier (the articles' step 7): for every tier and earning rule, the share of
the tier's members who triggered the rule in the period and the average growth it gave them; rules
nobody used and rules whose use does not differ between tiers are flagged."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .distribution import share

# A rule whose completion share varies by no more than this across the tiers that have members does
# not tell the tiers apart. A rule no tier uses more than this is too rare to compare (deductions
# such as complaints should be).
FLAT_SPREAD = Decimal("0.05")
# The period the report reads by default, in program days; the nightly summaries store this one.
DEFAULT_WEIGHTS_DAYS = 90


@dataclass(frozen=True)
class RuleUse:
    """What the selector reads per (tier, rule)."""

    tier_code: str
    rule_code: str
    members: int  # distinct members of the tier who triggered the rule
    growth: int  # growth the rule gave them in total


@dataclass(frozen=True)
class Cell:
    members: int
    share: Decimal
    average_growth: Decimal


@dataclass(frozen=True)
class RuleColumn:
    code: str
    name: str
    unused: bool
    flat: bool  # used by more than FLAT_SPREAD of some tier, but the share hardly differs between tiers
    spread: Decimal


@dataclass(frozen=True)
class WeightMatrix:
    tiers: list[tuple[str, str, int]]  # (code, name, members), lowest first
    rules: list[RuleColumn]
    cells: dict[tuple[str, str], Cell]  # (tier code, rule code)


def weight_matrix(
    tiers: list[tuple[str, str, int]], rules: list[tuple[str, str]], uses: list[RuleUse], *, flat_spread=FLAT_SPREAD
) -> WeightMatrix:
    found = {(use.tier_code, use.rule_code): use for use in uses}
    cells = {}
    for tier_code, _name, tier_members in tiers:
        for rule_code, _rule_name in rules:
            use = found.get((tier_code, rule_code))
            members, growth = (use.members, use.growth) if use else (0, 0)
            average = (Decimal(growth) / members).quantize(Decimal("0.01")) if members else Decimal("0")
            cells[(tier_code, rule_code)] = Cell(members, share(members, tier_members), average)
    columns = []
    populated = [code for code, _name, members in tiers if members]
    for rule_code, rule_name in rules:
        shares = [cells[(tier, rule_code)].share for tier in populated]
        used = any(cells[(tier, rule_code)].members for tier, _name, _m in tiers)
        spread = max(shares) - min(shares) if shares else Decimal(0)
        comparable = len(shares) > 1 and max(shares) > flat_spread
        columns.append(RuleColumn(rule_code, rule_name, not used, comparable and spread <= flat_spread, spread))
    return WeightMatrix(tiers, columns, cells)
