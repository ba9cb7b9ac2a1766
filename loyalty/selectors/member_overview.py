"""Everything the admin's member page shows, one query per list (no per-row queries), and the panels
the apps above the engine add (loyalty.extensions.member_panels: rewards adds redemptions and coupons)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty import extensions
from loyalty.models import Adjustment, Event, GrowthEntry, PointsEntry, TierChange
from members.models import Member

from .members import MemberCard, member_card

RECENT = 10


@dataclass(frozen=True)
class MemberOverview:
    card: MemberCard
    growth_entries: list[GrowthEntry]
    points_entries: list[PointsEntry]
    events: list[Event]
    tier_changes: list[TierChange]
    adjustments: list[Adjustment]
    panels: list[tuple[str, list[Any]]]  # (template, rows) of each registered panel

    @property
    def progress_percent(self) -> int:
        """How far the member is from their tier's threshold to the next one."""
        nxt, member = self.card.next_tier, self.card.member
        if nxt is None:
            return 100
        floor = member.tier.threshold
        span = max(nxt.threshold - floor, 1)
        return max(0, min(100, round(100 * (member.growth_value - floor) / span)))

    @property
    def expiring_total(self) -> int:
        return sum(e.amount for e in self.card.expiring)


def member_overview(*, member: Member, now: datetime) -> MemberOverview:
    return MemberOverview(
        card=member_card(member=member, now=now),
        growth_entries=list(GrowthEntry.objects.filter(member=member).order_by("-created_at", "-id")[:RECENT]),
        points_entries=list(PointsEntry.objects.filter(member=member).order_by("-created_at", "-id")[:RECENT]),
        events=list(
            Event.objects.filter(member=member).select_related("event_type").order_by("-occurred_at", "-id")[:RECENT]
        ),
        tier_changes=list(
            TierChange.objects.filter(member=member)
            .select_related("from_tier", "to_tier")
            .order_by("-created_at", "-id")[:RECENT]
        ),
        adjustments=list(
            Adjustment.objects.filter(member=member)
            .select_related("requested_by", "decided_by")
            .order_by("-requested_at", "-id")[:RECENT]
        ),
        panels=[(panel.template, panel.rows(member)) for panel in extensions.member_panels],
    )
