"""What a storefront shows a member: the card, the ledgers, the tier history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum

from loyalty.config import current_config
from loyalty.models import GrowthEntry, PointsEntry, Tier, TierChange
from members.models import Member

EXPIRING_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class ExpiringPoints:
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class MemberCard:
    member: Member
    next_tier: Tier | None
    expiring: list[ExpiringPoints]

    @property
    def to_next(self) -> int:
        return max(self.next_tier.threshold - self.member.growth_value, 0) if self.next_tier else 0


def expiring_points(*, member: Member, now: datetime, within: timedelta = EXPIRING_WINDOW) -> list[ExpiringPoints]:
    """Points still held that expire before now + within, summed per expiry moment, soonest first."""
    rows = (
        PointsEntry.objects.filter(member=member, remaining__gt=0, expires_at__lte=now + within)
        .values("expires_at")
        .annotate(amount=Sum("remaining"))
        .order_by("expires_at")
    )
    return [ExpiringPoints(amount=row["amount"], expires_at=row["expires_at"]) for row in rows]


def member_card(*, member: Member, now: datetime) -> MemberCard:
    next_tier = next((t for t in current_config().ladder if t.rank > member.tier.rank), None)
    return MemberCard(member=member, next_tier=next_tier, expiring=expiring_points(member=member, now=now))


def points_ledger(*, member: Member) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(member=member).select_related("event").order_by("-created_at", "-id")


def growth_ledger(*, member: Member) -> QuerySet[GrowthEntry]:
    return GrowthEntry.objects.filter(member=member).select_related("event").order_by("-created_at", "-id")


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier", "event")
        .order_by("-created_at", "-id")
    )
