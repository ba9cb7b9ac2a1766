"""Spending, refunding, adjusting, releasing and expiring points."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from loyalty.errors import IdempotencyConflict, InsufficientPoints, RefundExceedsSpend, SpendNotFound
from loyalty.models import PointsEntry, ProgramSettings
from loyalty.reason_codes import Reason
from members.models import Member
from members.outbox import Occurrence, publish, publish_many
from members.selectors import lock_member

from . import ledger
from .members_guard import check_can_transact, require_adjustment, require_positive_int, require_reason


def spend_points(
    *, member: Member, amount: int, reason: str | Reason, source: str, reference: str = "", actor=None
) -> PointsEntry:
    """Spend available points, soonest-expiring lots first. With a `reference`, the same
    (source, reference) again returns the first spend instead of spending twice."""
    require_positive_int(amount, "amount")
    require_reason(reason)
    try:
        with transaction.atomic():
            return _spend(member, amount, reason, source, reference, actor)
    except IntegrityError:
        earlier = _earlier_spend(source, reference)
        if earlier is None:
            raise
        return _same_spend_or_conflict(earlier, member, amount)


def _earlier_spend(source: str, reference: str) -> PointsEntry | None:
    if not reference:
        return None
    return PointsEntry.objects.filter(kind=PointsEntry.Kind.SPEND, source=source, reference=reference).first()


def _same_spend_or_conflict(earlier: PointsEntry, member: Member, amount: int) -> PointsEntry:
    if earlier.member_id != member.pk or -earlier.amount != amount:
        raise IdempotencyConflict(f"Spend reference {earlier.reference!r} was already used for another spend.")
    return earlier


def _spend(member, amount, reason, source, reference, actor) -> PointsEntry:
    member = lock_member(member_id=member.pk)
    earlier = _earlier_spend(source, reference)
    if earlier is not None:
        return _same_spend_or_conflict(earlier, member, amount)
    check_can_transact(member)
    now = timezone.now()
    # Lots past their expiry that the nightly job has not reached yet are expired first, never spent.
    overdue = PointsEntry.objects.filter(member=member, remaining__gt=0, expires_at__lte=now)
    expired = ledger.expire_points_lots(member, overdue.order_by("expires_at", "id"), at=now)
    if member.points_available < amount:
        raise InsufficientPoints(
            f"Member {member.external_id} has {member.points_available} points available, {amount} needed."
        )
    entry, short = ledger.debit_points(
        member,
        amount=amount,
        kind=PointsEntry.Kind.SPEND,
        at=now,
        pending=ledger.PENDING_EXCLUDED,
        reason=reason,
        actor=actor,
        source=source,
        reference=reference,
    )
    if short or entry is None:
        raise RuntimeError(f"Member {member.external_id}: cached points disagree with the lots; run loyalty_audit.")
    member.last_activity_at = now
    member.save(update_fields=["growth_value", "points_available", "points_pending", "last_activity_at", "updated_at"])
    spent = {"points": amount, "spend_id": entry.pk, "source": source, "reference": reference}
    publish_many([*_expired(member, expired, now), Occurrence("points.spent", spent, member.pk, now)])
    return entry


def _expired(member: Member, points: int, at: datetime) -> list[Occurrence]:
    return [Occurrence("points.expired", {"points": points}, member.pk, at)] if points else []


@transaction.atomic
def refund_spend(
    *, spend: PointsEntry, amount: int | None = None, reason: str | Reason, actor=None
) -> list[PointsEntry]:
    """Give back (part of) a spend. Points return to the lots they came from, last-consumed first,
    each refund keeping the expiry of its lot, so a refund never extends a point's life: a refund to
    a lot whose expiry has passed is expired at once, by an expire entry that says so."""
    require_reason(reason)
    member = lock_member(member_id=spend.member_id)
    found = PointsEntry.objects.filter(pk=spend.pk, kind=PointsEntry.Kind.SPEND).first()
    if found is None:
        raise SpendNotFound("No such spend.")
    spend = found
    refunded_before = PointsEntry.objects.filter(refunded_spend=spend).aggregate(total=Sum("amount"))["total"] or 0
    refundable = -spend.amount - refunded_before
    if refundable == 0:
        raise RefundExceedsSpend("This spend has already been refunded in full.")
    amount = refundable if amount is None else amount
    require_positive_int(amount, "amount")
    if amount > refundable:
        raise RefundExceedsSpend(f"Only {refundable} of this spend's {-spend.amount} points can still be refunded.")
    now = timezone.now()
    refunds = []
    expired = 0
    skip, left = refunded_before, amount
    for allocation in spend.allocations.select_related("lot").order_by("-id"):
        portion = allocation.amount
        skipped = min(skip, portion)
        skip -= skipped
        portion = min(portion - skipped, left)
        if portion <= 0:
            continue
        left -= portion
        refund = ledger.credit_points(
            member,
            amount=portion,
            kind=PointsEntry.Kind.REFUND,
            at=now,
            available_at=now,
            expires_at=allocation.lot.expires_at,
            now=now,
            refunded_spend=spend,
            reason=reason,
            actor=actor,
        )
        # A point never outlives its lot: what comes back after the lot's expiry expires at once.
        if refund.expires_at is not None and refund.expires_at <= now:
            expired += ledger.expire_points_lots(member, [refund], at=now, reason=ledger.REFUNDED_EXPIRED)
        refunds.append(refund)
        if left == 0:
            break
    ledger.save_balances(member)
    refunded = Occurrence("points.refunded", {"points": amount, "spend_id": spend.pk}, member.pk, now)
    publish_many([refunded, *_expired(member, expired, now)])
    return refunds


@transaction.atomic
def adjust_points(
    *, member: Member, amount: int, reason: str | Reason, actor, expires_at: datetime | None = None
) -> PointsEntry:
    """A manual correction by staff: positive amounts create an available lot, negative ones take
    available points soonest-expiring first (and refuse to take more than there is)."""
    require_adjustment(amount=amount, reason=reason, actor=actor)
    member = lock_member(member_id=member.pk)
    now = timezone.now()
    if amount > 0:
        if expires_at is None:
            expires_at = ledger.points_expiry(ProgramSettings.current(), now)
        entry = ledger.credit_points(
            member,
            amount=amount,
            kind=PointsEntry.Kind.ADJUST,
            at=now,
            available_at=now,
            expires_at=expires_at,
            now=now,
            reason=reason,
            actor=actor,
        )
    else:
        if member.points_available < -amount:
            raise InsufficientPoints(
                f"Member {member.external_id} has {member.points_available} points available; cannot take {-amount}."
            )
        taken, _ = ledger.debit_points(
            member,
            amount=-amount,
            kind=PointsEntry.Kind.ADJUST,
            at=now,
            pending=ledger.PENDING_EXCLUDED,
            reason=reason,
            actor=actor,
        )
        if taken is None:
            raise RuntimeError(f"Member {member.external_id}: cached points disagree with the lots; run loyalty_audit.")
        entry = taken
    ledger.save_balances(member)
    publish("points.adjusted", member=member, payload={"points": amount, "kind": "adjust"}, occurred_at=now)
    return entry


@transaction.atomic
def release_pending_points(*, member: Member, as_of: datetime) -> int:
    """Pending lots whose return window has passed become available. Returns the points released."""
    member = lock_member(member_id=member.pk)
    lots = list(
        PointsEntry.objects.filter(member=member, released_at__isnull=True, available_at__lte=as_of, amount__gt=0)
    )
    released = sum(lot.remaining or 0 for lot in lots)
    PointsEntry.objects.filter(pk__in=[lot.pk for lot in lots]).update(released_at=as_of)
    member.points_pending -= released
    member.points_available += released
    ledger.save_balances(member)
    return released


@transaction.atomic
def expire_points(*, member: Member, as_of: datetime) -> int:
    """Every lot whose expiry is at or before `as_of` loses its remainder. Returns the points expired."""
    member = lock_member(member_id=member.pk)
    lots = PointsEntry.objects.filter(member=member, remaining__gt=0, expires_at__lte=as_of)
    lots = lots.order_by("expires_at", "id")
    expired = ledger.expire_points_lots(member, lots, at=as_of)
    ledger.save_balances(member)
    publish_many(_expired(member, expired, as_of))
    return expired
