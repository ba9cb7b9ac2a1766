from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loyalty import extensions
from loyalty.analytics.economics import MonthFlow
from loyalty.models import JobRun, PointsEntry, Tier

from . import summaries
from .distribution import MemberCounts, member_counts

Kind = PointsEntry.Kind


def points_balances(counts: MemberCounts | None = None) -> tuple[int, int]:
    """(available, pending) points of all members, from the cached balances."""
    groups = member_counts() if counts is None else counts
    return sum(group.points_available for group in groups), sum(group.points_pending for group in groups)


def monthly_points(since: datetime, zone, run: JobRun | None) -> list[MonthFlow]:
    """Points entries in effect from `since` on, summed per program-time-zone month and kind: the
    summary run's totals plus what was recorded since it (see summaries.points_flow)."""
    months: dict[date, dict[str, int]] = {}
    for month, kind, total in summaries.points_flow(since=since, zone=zone, run=run):
        months.setdefault(month, {})[kind] = int(total)
    return [
        MonthFlow(
            month=month,
            earned=kinds.get(Kind.EARN, 0),
            spent=-kinds.get(Kind.SPEND, 0) - kinds.get(Kind.REFUND, 0),
            expired=-kinds.get(Kind.EXPIRE, 0),
            deducted=-kinds.get(Kind.DEDUCT, 0) - kinds.get(Kind.REVERSE, 0),
            adjusted=kinds.get(Kind.ADJUST, 0),
        )
        for month, kinds in sorted(months.items())
    ]


def redeemed_rewards(since: datetime) -> list[tuple[str, str, int, int, Decimal]]:
    """(code, name, units, points, cash value per unit) of the rewards redeemed since then, from every
    registered source of mall figures (loyalty.extensions.economics_sources)."""
    return [row for source in extensions.economics_sources for row in source.redeemed(since)]


def benefit_grants(since: datetime, zone) -> list[tuple[date, str, str | None, Decimal | None, int, int, int]]:
    """(month, tier code, coupon kind, coupon face value, grants, coupons, points) per month, tier and
    coupon template of the benefits granted, from every registered source."""
    return [row for source in extensions.economics_sources for row in source.granted(since, zone)]


def campaign_costs(since: datetime, zone) -> list[tuple[date, str, str, int, int, int, Decimal]]:
    """(month, campaign code, name, grants, points, coupons, coupons' face value) per month and
    campaign, from every registered source."""
    return [row for source in extensions.economics_sources for row in source.campaign_costs(since, zone)]


def campaign_liability() -> list[tuple[str, str, int]]:
    """(campaign code, name, points still held) of the points campaigns gave."""
    return [row for source in extensions.economics_sources for row in source.campaign_liability()]


def spend_by_tier(since: datetime, zone, run: JobRun | None) -> dict[tuple[date, str], Decimal]:
    """Net purchases (purchases less returns) per program month and the tier the member held after
    each event, combined from the summary run as monthly_points is."""
    codes: dict[Any, str] = dict(Tier.objects.values_list("pk", "code"))
    return {
        (month, codes.get(tier_id, "")): Decimal(str(spend or 0)).quantize(Decimal("0.01"))
        for month, tier_id, spend in summaries.spend(since=since, zone=zone, run=run)
    }


def _day(month: datetime | date) -> date:
    return month.date() if isinstance(month, datetime) else month
