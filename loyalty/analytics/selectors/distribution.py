from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from django.db.models import Case, Count, Sum, Value, When

from loyalty.analytics.calibration import Histogram
from loyalty.analytics.distribution import TierCount
from loyalty.calculations import TierStep, recalculated_tier
from loyalty.config import current_config
from members.models import Member


class MemberGroup(NamedTuple):
    tier_id: int
    growth_value: int
    closed: bool
    members: int
    points_available: int
    points_pending: int


MemberCounts = list[MemberGroup]


def member_counts() -> MemberCounts:
    """Members and their points per tier, growth value and closed or not: in one pass over the
    members, every count the distribution, the calibration, the weight matrix's tier sizes and the
    points liability need."""
    closed = Case(When(status=Member.Status.CLOSED, then=Value(True)), default=Value(False))
    rows = (
        Member.objects.annotate(closed=closed)
        .values_list("tier_id", "growth_value", "closed")
        .annotate(n=Count("id"), available=Sum("points_available"), pending=Sum("points_pending"))
    )
    return [MemberGroup(*row) for row in rows]


def _counted(counts: MemberCounts | None) -> list[MemberGroup]:
    """The groups the reports count: everyone but closed members."""
    return [group for group in (member_counts() if counts is None else counts) if not group.closed]


def tier_counts(counts: MemberCounts | None = None) -> list[TierCount]:
    """Members per tier of the ladder, lowest first, empty tiers too."""
    per_tier: Counter[int] = Counter()
    for group in _counted(counts):
        per_tier[group.tier_id] += group.members
    return [TierCount(t.code, t.name, t.rank, t.threshold, per_tier[t.pk]) for t in current_config().ladder]


def growth_histogram(counts: MemberCounts | None = None) -> Histogram:
    """Members per growth value: one row per distinct value, so any threshold's share is exact."""
    per_growth: Counter[int] = Counter()
    for group in _counted(counts):
        per_growth[group.growth_value] += group.members
    return Histogram.from_counts(sorted(per_growth.items()))


def tier_movements(
    thresholds: list[int], policy: str, counts: MemberCounts | None = None
) -> dict[tuple[str, str], int]:
    """(tier held today, tier after the next recalculation with these thresholds, lowest first) ->
    members: upgrades to the qualifying tier, downgrades as the program's `policy` makes them."""
    current = current_config().ladder
    proposed = [TierStep(t.code, t.rank, threshold) for t, threshold in zip(current, thresholds, strict=True)]
    by_id = {tier.pk: step for tier, step in zip(current, proposed, strict=True)}
    moves: Counter[tuple[str, str]] = Counter()
    for group in _counted(counts):
        held = by_id[group.tier_id]
        moves[(held.code, recalculated_tier(proposed, held, group.growth_value, policy).code)] += group.members
    return dict(moves)
