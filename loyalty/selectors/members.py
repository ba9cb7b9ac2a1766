"""What a storefront shows a member: the card, the ledgers, the tier history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf

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
    """Points still held that expire before now + within, summed per expiry moment, soonest first.

    Plain SQL: every card GET runs it, and compiling the ORM's aggregate cost three times running it."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT expires_at, SUM(remaining) FROM {PointsEntry._meta.db_table}
                WHERE member_id = %s AND remaining > 0 AND expires_at <= %s
                GROUP BY expires_at ORDER BY expires_at""",
            [member.pk, now + within],
        )
        return [ExpiringPoints(amount=amount, expires_at=expires_at) for expires_at, amount in cursor.fetchall()]


def member_card(*, member: Member, now: datetime) -> MemberCard:
    """The card. The member's tier is taken from the cached configuration (the same rows), so the
    member needs no join with its tier."""
    ladder = current_config().ladder
    member.tier = next(t for t in ladder if t.pk == member.tier_id)
    return MemberCard(
        member=member, next_tier=next_tier_of(member, ladder), expiring=expiring_points(member=member, now=now)
    )


def next_tier_of(member: Member, ladder: tuple[Tier, ...]) -> Tier | None:
    return next((t for t in ladder if t.rank > member.tier.rank), None)


def points_ledger(*, member: Member) -> QuerySet[PointsEntry]:
    """Newest first, each entry with its `origin`: the storefront whose event, spend or hold caused
    it (None for staff and scheduled jobs), so a storefront is not shown another's order ids."""
    return (
        PointsEntry.objects.filter(member=member)
        .select_related("event")
        .annotate(origin=Coalesce(F("event__source"), NullIf(F("source"), Value("")), F("refunded_spend__source")))
        .order_by("-created_at", "-id")
    )


def growth_ledger(*, member: Member) -> QuerySet[GrowthEntry]:
    return (
        GrowthEntry.objects.filter(member=member)
        .select_related("event")
        .annotate(origin=F("event__source"))
        .order_by("-created_at", "-id")
    )


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    return (
        TierChange.objects.filter(member=member)
        .select_related("from_tier", "to_tier", "event")
        .annotate(origin=F("event__source"))
        .order_by("-created_at", "-id")
    )
