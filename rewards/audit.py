"""The rewards' part of loyalty_audit: stock counters and the points behind redemptions and holds.

Each check is one set-based query, like the ledger checks in loyalty.audit."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from loyalty import extensions
from loyalty.extensions import Finding
from loyalty.models import PointsEntry

from .models import PointsHold, Redemption, Reward


def _refunded() -> Coalesce:
    """Points refunded so far of the row's spend."""
    rows = PointsEntry.objects.filter(refunded_spend=OuterRef("spend")).order_by().values("refunded_spend")
    return Coalesce(Subquery(rows.annotate(total=Sum("amount")).values("total")), Value(0), output_field=IntegerField())


def _stock_findings(limit: int) -> Iterator[Finding]:
    live = Redemption.objects.filter(reward=OuterRef("pk")).exclude(status=Redemption.Status.CANCELLED)
    live_total = Coalesce(
        Subquery(live.order_by().values("reward").annotate(total=Sum("quantity")).values("total")),
        Value(0),
        output_field=IntegerField(),
    )
    for reward in Reward.objects.annotate(live=live_total).exclude(redeemed_quantity=F("live")).order_by("pk")[:limit]:
        yield Finding(
            "reward stock", reward.code, f"counts {reward.redeemed_quantity} redeemed, redemptions say {reward.live}"
        )


def _redemption_findings(limit: int) -> Iterator[Finding]:
    redemptions = Redemption.objects.annotate(spent=-F("spend__amount"), refunded=_refunded())
    cancelled = Q(status=Redemption.Status.CANCELLED)
    wrong = redemptions.filter(
        ~Q(points_spent=F("spent")) | (cancelled & ~Q(refunded=F("spent"))) | (~cancelled & ~Q(refunded=0))
    )
    for row in wrong.select_related("member").order_by("pk")[:limit]:
        yield Finding(
            "redemption points",
            row.member.external_id,
            f"redemption {row.pk} ({row.status}): {row.points_spent} points, "
            f"spend {row.spent}, refunded {row.refunded}",
        )


def _hold_findings(limit: int) -> Iterator[Finding]:
    holds = PointsHold.objects.annotate(spent=-F("spend__amount"), refunded=_refunded())
    wrong = holds.filter(
        ~Q(amount=F("spent"))
        | Q(status=PointsHold.Status.HELD, refunded__gt=0)
        | (Q(status=PointsHold.Status.CAPTURED) & ~Q(refunded=F("amount") - F("captured_amount")))
        | (Q(status=PointsHold.Status.RELEASED) & ~Q(refunded=F("amount")))
    )
    for hold in wrong.select_related("member").order_by("pk")[:limit]:
        yield Finding(
            "points hold",
            hold.member.external_id,
            f"hold {hold.pk} ({hold.status}): {hold.amount} held, {hold.captured_amount} captured, "
            f"spend {hold.spent}, refunded {hold.refunded}",
        )


def register() -> None:
    """The rewards' checks, run by loyalty_audit after the engine's (loyalty.extensions.audit_checks)."""
    extensions.audit_checks.register("reward stock", _stock_findings, order=110)
    extensions.audit_checks.register("redemption points", _redemption_findings, order=120)
    extensions.audit_checks.register("points holds", _hold_findings, order=130)
