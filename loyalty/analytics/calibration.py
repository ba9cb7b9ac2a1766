"""Threshold calibration: from a target share per tier and the current distribution of qualifying
growth, propose thresholds that are readable numbers and still give the target shares.

The distribution comes as a histogram of (growth value, members) pairs, so the share any threshold
would give is exact, and rounding can be checked against the target before it is proposed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate

from django.utils.translation import gettext as _

from .distribution import share

# A rounded threshold is kept when its share is within half a percentage point of the target, so
# the proposal stays within one point even where the distribution is dense.
ROUNDING_TOLERANCE = Decimal("0.005")
# The default targets shrink by this factor per tier: 42/25/15/9/6/3 for six tiers.
DEFAULT_TARGET_RATIO = Decimal("0.6")


class TargetError(ValueError):
    pass


@dataclass(frozen=True)
class Histogram:
    """Members per growth value, ascending values."""

    values: list[int]
    cumulative: list[int]  # members with growth <= values[i]

    @classmethod
    def from_counts(cls, counts: Sequence[tuple[int, int]]) -> Histogram:
        ordered = sorted(counts)
        return cls([value for value, _count in ordered], list(accumulate(count for _value, count in ordered)))

    @property
    def total(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0

    def below(self, threshold: int) -> int:
        """Members whose growth is under `threshold`."""
        index = bisect_left(self.values, threshold)
        return self.cumulative[index - 1] if index else 0


@dataclass(frozen=True)
class ProposedTier:
    code: str
    current_threshold: int
    exact_threshold: int  # the growth value that splits the members closest to the target
    proposed_threshold: int  # the readable number proposed
    target_share: Decimal
    current_share: Decimal
    proposed_share: Decimal


def parse_targets(text: str, tier_count: int) -> list[Decimal]:
    """'45/25/14/8/5/3' or '45,25,14,8,5,3' (percent, lowest tier first) -> shares 0..1 summing to 1."""
    try:
        percents = [Decimal(part.strip().rstrip("%")) for part in text.replace(",", "/").split("/") if part.strip()]
    except ArithmeticError as exc:
        example = targets_text(default_targets(tier_count))
        raise TargetError(_("Target shares must be numbers, e.g. %(example)s.") % {"example": example}) from exc
    return check_targets([p / 100 for p in percents], tier_count)


def check_targets(shares: list[Decimal], tier_count: int) -> list[Decimal]:
    if len(shares) != tier_count:
        raise TargetError(
            _("Give one target share per tier: %(expected)s, not %(given)s.")
            % {"expected": tier_count, "given": len(shares)}
        )
    if any(s <= 0 for s in shares):
        raise TargetError(_("Every tier needs a target share above zero."))
    if abs(sum(shares, Decimal(0)) - 1) > Decimal("0.001"):
        raise TargetError(
            _("Target shares must add up to 100%%, not %(sum)s%%.")
            % {"sum": f"{(sum(shares, Decimal(0)) * 100).normalize():f}"}
        )
    return shares


def default_targets(tier_count: int) -> list[Decimal]:
    """Whole percents shrinking by DEFAULT_TARGET_RATIO per tier and adding up to 100 (largest
    remainders get the rounding): six tiers give 42/25/15/9/6/3."""
    weights = [DEFAULT_TARGET_RATIO**rank for rank in range(tier_count)]
    raw = [w * 100 / sum(weights) for w in weights]
    whole = [int(r) for r in raw]
    by_remainder = sorted(range(tier_count), key=lambda i: (raw[i] - whole[i], -i), reverse=True)
    for i in by_remainder[: 100 - sum(whole)]:
        whole[i] += 1
    return [Decimal(w) / 100 for w in whole]


def targets_text(shares: list[Decimal]) -> str:
    """Shares as the form takes them: 42/25/15/9/6/3."""
    return "/".join(f"{(share * 100).normalize():f}" for share in shares)


def readable(value: int, significant_digits: int) -> int:
    """`value` rounded half-up to that many significant digits: 1234 -> 1000, 1200, 1230."""
    if value <= 0:
        return value
    exponent = len(str(value)) - significant_digits
    if exponent <= 0:
        return value
    step = Decimal(10) ** exponent
    return int((Decimal(value) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def exact_threshold(histogram: Histogram, cumulative_target: Decimal) -> int:
    """The growth value whose 'members below it' comes closest to the target share; ties go to the
    lower value."""
    goal = cumulative_target * histogram.total
    best, best_gap = 0, None
    previous = 0  # members below values[i]
    for value, cumulative in zip(histogram.values, histogram.cumulative, strict=True):
        for candidate, below in ((value, previous), (value + 1, cumulative)):
            gap = abs(below - goal)
            if best_gap is None or gap < best_gap:
                best, best_gap = candidate, gap
        previous = cumulative
    return best


def propose_thresholds(
    histogram: Histogram, targets: list[Decimal], *, tolerance: Decimal = ROUNDING_TOLERANCE
) -> list[tuple[int, int]]:
    """(exact, proposed) threshold per tier, lowest first (the lowest 0): the exact one comes closest
    to the cumulative target share; the proposed one is rounded to the fewest significant digits
    that keep its cumulative share within `tolerance` of the target (or as close as the exact one)."""
    thresholds = [(0, 0)]
    cumulative = Decimal(0)
    for target in targets[:-1]:
        cumulative += target
        floor = thresholds[-1][1]
        exact = max(exact_threshold(histogram, cumulative), floor + 1)
        thresholds.append((exact, _round_within(histogram, exact, cumulative, floor, tolerance)))
    return thresholds


def _round_within(histogram: Histogram, exact: int, cumulative: Decimal, floor: int, tolerance: Decimal) -> int:
    exact_gap = abs(share(histogram.below(exact), histogram.total) - cumulative)
    for digits in range(1, len(str(exact))):
        candidate = readable(exact, digits)
        gap = abs(share(histogram.below(candidate), histogram.total) - cumulative)
        if candidate > floor and gap <= max(tolerance, exact_gap):
            return candidate
    return exact


def tier_shares(histogram: Histogram, thresholds: list[int]) -> list[Decimal]:
    """The share of members each tier would hold under `thresholds` (lowest first)."""
    bounds = [histogram.below(t) for t in thresholds[1:]] + [histogram.total]
    lower = [0] + bounds[:-1]
    return [share(upper - below, histogram.total) for below, upper in zip(lower, bounds, strict=True)]


def calibrate(histogram: Histogram, ladder: list[tuple[str, int]], targets: list[Decimal]) -> list[ProposedTier]:
    """ladder: (code, current threshold) lowest first."""
    thresholds = propose_thresholds(histogram, targets)
    current = tier_shares(histogram, [threshold for _code, threshold in ladder])
    proposed = tier_shares(histogram, [new for _exact, new in thresholds])
    return [
        ProposedTier(code, now, exact, new, target, current_share, proposed_share)
        for (code, now), (exact, new), target, current_share, proposed_share in zip(
            ladder, thresholds, targets, current, proposed, strict=True
        )
    ]
