"""Proof that the cached balances and lot remainders agree with the append-only ledgers.

Every check is one set-based query over all members (or all lots), so the audit scales with the
database, not with a Python loop."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from loyalty import extensions
from loyalty.extensions import Finding
from loyalty.models import GrowthAllocation, GrowthEntry, PointsAllocation, PointsEntry, TierChange
from members.models import Member


def member_sum(model, field: str = "amount", **filters) -> Coalesce:
    """Per-member SUM(field) of a ledger as a correlated subquery (0 when the member has no rows)."""
    rows = model.objects.filter(member=OuterRef("pk"), **filters).order_by().values("member")
    return Coalesce(Subquery(rows.annotate(total=Sum(field)).values("total")), Value(0), output_field=IntegerField())


def ledger_balances() -> dict[str, Coalesce]:
    """What each cached balance on the member must equal, derived from the ledgers."""
    return {
        "ledger_growth": member_sum(GrowthEntry),
        "ledger_points": member_sum(PointsEntry),
        "lots_growth": member_sum(GrowthEntry, "remaining", amount__gt=0),
        "lots_available": member_sum(PointsEntry, "remaining", amount__gt=0, released_at__isnull=False),
        "lots_pending": member_sum(PointsEntry, "remaining", amount__gt=0, released_at__isnull=True),
    }


def _cached_balance_findings(limit: int) -> Iterator[Finding]:
    mismatched = (
        Member.objects.annotate(**ledger_balances())
        .filter(
            ~Q(growth_value=F("ledger_growth"))
            | ~Q(growth_value=F("lots_growth"))
            | ~Q(points_available=F("lots_available"))
            | ~Q(points_pending=F("lots_pending"))
            | ~Q(ledger_points=F("lots_available") + F("lots_pending"))
        )
        .order_by("pk")
    )
    columns = ("external_id", "growth_value", "points_available", "points_pending", *ledger_balances())
    for row in mismatched.values(*columns)[:limit]:
        yield Finding(
            "cached balances",
            row["external_id"],
            f"growth cached {row['growth_value']} / ledger {row['ledger_growth']} / lots {row['lots_growth']}; "
            f"points available cached {row['points_available']} / lots {row['lots_available']}; "
            f"pending cached {row['points_pending']} / lots {row['lots_pending']}; "
            f"points ledger {row['ledger_points']}",
        )


def _negative_findings(limit: int) -> Iterator[Finding]:
    negative = Member.objects.filter(Q(growth_value__lt=0) | Q(points_available__lt=0) | Q(points_pending__lt=0))
    for m in negative.order_by("pk")[:limit]:
        yield Finding(
            "negative balance",
            m.external_id,
            f"growth {m.growth_value}, available {m.points_available}, pending {m.points_pending}",
        )


def _allocated(allocation_model, side: str) -> Coalesce:
    rows = allocation_model.objects.filter(**{side: OuterRef("pk")}).order_by().values(side)
    return Coalesce(Subquery(rows.annotate(total=Sum("amount")).values("total")), Value(0), output_field=IntegerField())


def _expired(entry_model) -> Coalesce:
    rows = entry_model.objects.filter(expired_lot=OuterRef("pk"), kind="expire").order_by().values("expired_lot")
    return Coalesce(Subquery(rows.annotate(total=Sum("amount")).values("total")), Value(0), output_field=IntegerField())


def _lot_findings(entry_model, allocation_model, label: str, limit: int) -> Iterator[Finding]:
    """A lot's consumption is what debits took (allocations) plus what expired (its expire entry)."""
    lots: QuerySet = entry_model.objects.filter(amount__gt=0).annotate(
        taken=_allocated(allocation_model, "lot"), expired=_expired(entry_model)
    )
    bad_lots = lots.filter(Q(remaining__lt=0) | ~Q(remaining=F("amount") - F("taken") + F("expired")))
    for lot in bad_lots.select_related("member").order_by("pk")[:limit]:
        yield Finding(
            f"{label} lot",
            lot.member.external_id,
            f"lot {lot.pk}: amount {lot.amount}, remaining {lot.remaining}, allocated {lot.taken}, "
            f"expired {-lot.expired}",
        )
    debits = (
        entry_model.objects.filter(amount__lt=0)
        .exclude(kind="expire")
        .annotate(taken=_allocated(allocation_model, "debit"))
    )
    for debit in debits.exclude(amount=-F("taken")).select_related("member").order_by("pk")[:limit]:
        yield Finding(
            f"{label} debit",
            debit.member.external_id,
            f"entry {debit.pk} ({debit.kind} {debit.amount}) is covered by allocations of {debit.taken}",
        )
    unlinked = entry_model.objects.filter(kind="expire", expired_lot__isnull=True).select_related("member")
    for entry in unlinked.order_by("pk")[:limit]:
        yield Finding(f"{label} expiry", entry.member.external_id, f"expire entry {entry.pk} names no lot")


def _tier_findings(limit: int) -> Iterator[Finding]:
    latest = TierChange.objects.filter(member=OuterRef("pk")).order_by("-id").values("to_tier")[:1]
    drifted = Member.objects.annotate(history_tier=Subquery(latest)).exclude(tier=F("history_tier"))
    for m in drifted.order_by("pk")[:limit]:
        yield Finding("tier history", m.external_id, f"holds tier {m.tier_id}, history says {m.history_tier}")


def audit(limit: int = 50) -> list[Finding]:
    """Every inconsistency found (at most `limit` per check), by every registered check."""
    return [finding for check in extensions.audit_checks for finding in check(limit)]


def register() -> None:
    """The engine's checks (loyalty.extensions.audit_checks); the apps above add theirs."""
    extensions.audit_checks.register("cached balances", _cached_balance_findings, order=10)
    extensions.audit_checks.register("negative balances", _negative_findings, order=20)
    extensions.audit_checks.register(
        "growth lots", lambda limit: _lot_findings(GrowthEntry, GrowthAllocation, "growth", limit), order=30
    )
    extensions.audit_checks.register(
        "points lots", lambda limit: _lot_findings(PointsEntry, PointsAllocation, "points", limit), order=40
    )
    extensions.audit_checks.register("tier history", _tier_findings, order=50)
