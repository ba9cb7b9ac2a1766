"""Tier distribution health (the articles' step 4): members and share per tier, and plain-language
findings about the shape of the ladder."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

# The articles' bad ladder held "single digits, tens, hundreds and 100,000+": neighbours two or
# three orders of magnitude apart. Thirty times is well past what a healthy pyramid shows.
ADJACENT_RATIO_LIMIT = 30
TOP_TIERS = 3
# The worked example aims at the top three tiers holding ~18-20% of members (the 80/20 idea).
DEFAULT_TOP_SHARE_TARGET = Decimal("0.20")
DEFAULT_TOP_SHARE_TOLERANCE = Decimal("0.05")


@dataclass(frozen=True)
class TierCount:
    code: str
    name: str
    rank: int
    threshold: int
    members: int


@dataclass(frozen=True)
class TierShare:
    code: str
    name: str
    rank: int
    threshold: int
    members: int
    share: Decimal  # of all members counted, 0..1


@dataclass(frozen=True)
class Finding:
    check: str  # inversion, adjacent_ratio, top_share, empty_tier
    message: str


@dataclass(frozen=True)
class Distribution:
    total: int
    tiers: list[TierShare]  # lowest first
    top_share: Decimal
    findings: list[Finding]


def share(part: int, whole: int) -> Decimal:
    """part / whole to four places (a share 0..1); zero of nothing is zero."""
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else Decimal("0")


def percent(value: Decimal) -> str:
    return f"{value * 100:.1f}%"


def tier_distribution(
    counts: list[TierCount],
    *,
    top_share_target: Decimal = DEFAULT_TOP_SHARE_TARGET,
    tolerance: Decimal = DEFAULT_TOP_SHARE_TOLERANCE,
) -> Distribution:
    ladder = sorted(counts, key=lambda c: c.rank)
    total = sum(c.members for c in ladder)
    tiers = [TierShare(c.code, c.name, c.rank, c.threshold, c.members, share(c.members, total)) for c in ladder]
    top = share(sum(c.members for c in ladder[-TOP_TIERS:]), total)
    return Distribution(total, tiers, top, _findings(ladder, total, top, top_share_target, tolerance))


def _findings(ladder: list[TierCount], total: int, top: Decimal, target: Decimal, tolerance: Decimal) -> list[Finding]:
    if not total:
        return [Finding("empty_tier", _("No members yet: there is no distribution to check."))]
    findings = [
        Finding(
            "empty_tier",
            _("%(tier)s holds no members: its threshold may be out of reach, or the tier is redundant.")
            % {"tier": tier.name},
        )
        for tier in ladder
        if tier.members == 0
    ]
    for lower, upper in zip(ladder, ladder[1:], strict=False):
        if upper.members > lower.members:
            findings.append(
                Finding(
                    "inversion",
                    _(
                        "%(upper)s holds more members (%(upper_count)s) than %(lower)s below it (%(lower_count)s): "
                        "a pyramid narrows upward; the threshold of %(upper)s may be too low."
                    )
                    % {
                        "upper": upper.name,
                        "upper_count": f"{upper.members:,}",
                        "lower": lower.name,
                        "lower_count": f"{lower.members:,}",
                    },
                )
            )
        small, large = sorted((lower.members, upper.members))
        if small and large > ADJACENT_RATIO_LIMIT * small:
            findings.append(
                Finding(
                    "adjacent_ratio",
                    _(
                        "%(lower)s (%(lower_count)s) and %(upper)s (%(upper_count)s) differ %(ratio)s-fold (more "
                        "than %(limit)sx): the step between them is out of proportion with the rest of the ladder."
                    )
                    % {
                        "lower": lower.name,
                        "lower_count": f"{lower.members:,}",
                        "upper": upper.name,
                        "upper_count": f"{upper.members:,}",
                        "ratio": f"{large / small:.0f}",
                        "limit": ADJACENT_RATIO_LIMIT,
                    },
                )
            )
    if len(ladder) >= TOP_TIERS and abs(top - target) > tolerance:
        above = _("The top %(count)s tiers (%(names)s) hold %(share)s of members, above the target of %(target)s.")
        below = _("The top %(count)s tiers (%(names)s) hold %(share)s of members, below the target of %(target)s.")
        message = above if top > target else below
        findings.append(
            Finding(
                "top_share",
                message
                % {
                    "count": TOP_TIERS,
                    "names": ", ".join(t.name for t in ladder[-TOP_TIERS:]),
                    "share": percent(top),
                    "target": f"{percent(target)} ± {percent(tolerance)}",
                },
            )
        )
    return findings
