"""Writing the two ledgers. Internal: callers are services that already hold the member lock inside a
transaction, and that save the member's cached balances afterwards."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from loyalty import reason_codes
from loyalty.calculations import Take, expiry_at, plan_consumption
from loyalty.models import (
    Event,
    GrowthAllocation,
    GrowthEntry,
    PointsAllocation,
    PointsEntry,
    ProgramSettings,
)
from loyalty.reason_codes import Reason
from loyalty.reasons import reason_fields
from members.models import Member

GROWTH_EXPIRED = Reason(reason_codes.GROWTH_EXPIRED)
POINTS_EXPIRED = Reason(reason_codes.POINTS_EXPIRED)
REFUNDED_EXPIRED = Reason(reason_codes.REFUNDED_EXPIRED)


def _with_reason(fields: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields with its reason (system code or a person's text) as its reason columns."""
    if "reason" not in fields:
        return fields
    rest = {name: value for name, value in fields.items() if name != "reason"}
    return {**rest, **reason_fields(fields["reason"])}


def _open_lots(model, member: Member) -> QuerySet:
    return model.objects.filter(member=member, remaining__gt=0)


def _soonest_expiring_first(lots: QuerySet, *preferences) -> QuerySet:
    return lots.order_by(*preferences, F("expires_at").asc(nulls_last=True), "id")


def _prefer(condition: dict) -> Case:
    return Case(When(**condition, then=Value(0)), default=Value(1), output_field=IntegerField())


def _write_debit(entry_model, allocation_model, takes: list[Take[Any]], **entry_fields):
    total = sum(t.amount for t in takes)
    entry = entry_model.objects.create(amount=-total, **_with_reason(entry_fields))
    for take in takes:
        take.lot.remaining -= take.amount
    entry_model.objects.bulk_update([t.lot for t in takes], ["remaining"])
    allocation_model.objects.bulk_create(allocation_model(debit=entry, lot=t.lot, amount=t.amount) for t in takes)
    return entry


# --- growth -----------------------------------------------------------------------------------------


def growth_lot(
    member: Member, *, program: ProgramSettings, amount: int, kind: str, at: datetime, **fields
) -> GrowthEntry:
    """A new growth lot, not yet saved (batches insert theirs in bulk), counted in the member's value."""
    member.growth_value += amount
    return GrowthEntry(
        member=member,
        kind=kind,
        amount=amount,
        remaining=amount,
        created_at=at,
        expires_at=expiry_at(program.growth_window_policy, program.growth_window_months, at, program.zone),
        **_with_reason(fields),
    )


def credit_growth(
    member: Member, *, program: ProgramSettings, amount: int, kind: str, at: datetime, **fields
) -> GrowthEntry:
    entry = growth_lot(member, program=program, amount=amount, kind=kind, at=at, **fields)
    entry.save(force_insert=True)
    return entry


def debit_growth(
    member: Member, *, amount: int, kind: str, at: datetime, own_event: Event | None = None, **fields
) -> tuple[GrowthEntry | None, int]:
    """Take up to `amount` growth, soonest-expiring lots first (the own event's lots before all).
    Returns the entry (None if nothing was there) and the shortfall."""
    preferences = [_prefer({"event": own_event})] if own_event else []
    lots = _soonest_expiring_first(_open_lots(GrowthEntry, member), *preferences)
    takes, short = plan_consumption(((lot, lot.remaining) for lot in lots), amount)
    if not takes:
        return None, short
    entry = _write_debit(GrowthEntry, GrowthAllocation, takes, member=member, kind=kind, created_at=at, **fields)
    member.growth_value += entry.amount
    return entry, short


def _expire_lot(entry_model, member: Member, lot, *, at: datetime, reason: Reason):
    """An expire entry takes the lot's whole remainder; `expired_lot` records where it came from."""
    entry = entry_model.objects.create(
        member=member, kind="expire", amount=-lot.remaining, created_at=at, expired_lot=lot, **reason_fields(reason)
    )
    lot.remaining = 0
    lot.save(update_fields=["remaining"])
    return entry


def expire_growth_lots(member: Member, lots: Iterable[GrowthEntry], *, at: datetime) -> int:
    expired = 0
    for lot in lots:
        entry = _expire_lot(GrowthEntry, member, lot, at=at, reason=GROWTH_EXPIRED)
        member.growth_value += entry.amount
        expired -= entry.amount
    return expired


# --- points -----------------------------------------------------------------------------------------


def credit_points(
    member: Member,
    *,
    amount: int,
    kind: str,
    at: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    now: datetime,
    **fields,
) -> PointsEntry:
    entry = points_lot(
        member, amount=amount, kind=kind, at=at, available_at=available_at, expires_at=expires_at, now=now, **fields
    )
    entry.save(force_insert=True)
    return entry


def points_lot(
    member: Member,
    *,
    amount: int,
    kind: str,
    at: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    now: datetime,
    **fields,
) -> PointsEntry:
    """A new points lot, not yet saved, counted in the member's available or pending points."""
    released = available_at <= now
    if released:
        member.points_available += amount
    else:
        member.points_pending += amount
    return PointsEntry(
        member=member,
        kind=kind,
        amount=amount,
        remaining=amount,
        created_at=at,
        expires_at=expires_at,
        available_at=available_at,
        released_at=now if released else None,
        **_with_reason(fields),
    )


def points_expiry(program: ProgramSettings, earned_at: datetime) -> datetime | None:
    return expiry_at(program.points_expiry_policy, program.points_expiry_months, earned_at, program.zone)


def _apply_points_takes_to_balances(member: Member, takes: list[Take[PointsEntry]]) -> None:
    for take in takes:
        if take.lot.released_at is None:
            member.points_pending -= take.amount
        else:
            member.points_available -= take.amount


PENDING_EXCLUDED = "excluded"
PENDING_FIRST = "first"
PENDING_LAST = "last"


def debit_points(
    member: Member,
    *,
    amount: int,
    kind: str,
    at: datetime,
    pending: str,
    own_event: Event | None = None,
    **fields,
) -> tuple[PointsEntry | None, int]:
    """Take up to `amount` points, soonest-expiring lots first. `pending` says whether pending lots are
    left alone (spends), taken first (reversing a return: the own order's lots before all), or taken
    last (deductions). Returns the entry (None if nothing was there) and the shortfall."""
    lots = _open_lots(PointsEntry, member)
    preferences = []
    if own_event is not None:
        preferences.append(_prefer({"event": own_event}))
    if pending == PENDING_EXCLUDED:
        lots = lots.filter(released_at__isnull=False)
    elif pending == PENDING_FIRST:
        preferences.append(_prefer({"released_at__isnull": True}))
    else:
        preferences.append(_prefer({"released_at__isnull": False}))
    lots = _soonest_expiring_first(lots, *preferences)
    takes, short = plan_consumption(((lot, lot.remaining) for lot in lots), amount)
    if not takes:
        return None, short
    entry = _write_debit(PointsEntry, PointsAllocation, takes, member=member, kind=kind, created_at=at, **fields)
    _apply_points_takes_to_balances(member, takes)
    return entry, short


def expire_points_lots(
    member: Member, lots: Iterable[PointsEntry], *, at: datetime, reason: Reason = POINTS_EXPIRED
) -> int:
    expired = 0
    for lot in lots:
        if lot.released_at is None:
            member.points_pending -= lot.remaining or 0
        else:
            member.points_available -= lot.remaining or 0
        entry = _expire_lot(PointsEntry, member, lot, at=at, reason=reason)
        expired -= entry.amount
    return expired


def save_balances(member: Member) -> None:
    member.save(update_fields=["growth_value", "points_available", "points_pending", "updated_at"])
