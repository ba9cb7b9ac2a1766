from __future__ import annotations

from collections import Counter

from django.db.models import Count

from loyalty.analytics.calibration import Histogram
from loyalty.analytics.distribution import TierCount
from loyalty.config import current_config

from .sql import population

# (tier id, growth value, members)
MemberCounts = list[tuple[int, int, int]]


def member_counts() -> MemberCounts:
    """Members (closed ones left out) per tier and growth value: in one pass over the members, every
    count the distribution, the calibration and the weight matrix need."""
    return list(
        population()
        .values_list("tier_id", "growth_value")
        .annotate(n=Count("id"))
        .values_list("tier_id", "growth_value", "n")
    )


def tier_counts(counts: MemberCounts | None = None) -> list[TierCount]:
    """Members per tier of the ladder, lowest first, empty tiers too."""
    per_tier: Counter[int] = Counter()
    for tier_id, _growth, n in member_counts() if counts is None else counts:
        per_tier[tier_id] += n
    return [TierCount(t.code, t.name, t.rank, t.threshold, per_tier[t.pk]) for t in current_config().ladder]


def growth_histogram(counts: MemberCounts | None = None) -> Histogram:
    """Members per growth value: one row per distinct value, so any threshold's share is exact."""
    per_growth: Counter[int] = Counter()
    for _tier, growth, n in member_counts() if counts is None else counts:
        per_growth[growth] += n
    return Histogram.from_counts(sorted(per_growth.items()))


def tier_movements(thresholds: list[int], counts: MemberCounts | None = None) -> dict[tuple[str, str], int]:
    """(current tier code, tier the proposed thresholds, lowest first, qualify for) -> members."""
    codes = {tier.pk: tier.code for tier in current_config().ladder}
    ladder = [tier.code for tier in current_config().ladder]
    moves: Counter[tuple[str, str]] = Counter()
    for tier_id, growth, n in member_counts() if counts is None else counts:
        qualifying = max((rank for rank, threshold in enumerate(thresholds) if growth >= threshold), default=0)
        moves[(codes[tier_id], ladder[qualifying])] += n
    return dict(moves)
