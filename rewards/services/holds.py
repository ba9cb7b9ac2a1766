"""Points as payment: hold points for an order, capture them when it is paid, release them otherwise.

A hold is a spend in the points ledger, so held points leave `available` at once and the usual
audit proves the balance; releasing refunds the spend to the lots it came from (with their expiry),
capturing keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty import reason_codes
from loyalty.errors import IdempotencyConflict
from loyalty.models import PointsEntry, ProgramSettings
from loyalty.reason_codes import Reason
from loyalty.services import refund_spend, spend_points
from loyalty.services.members_guard import check_can_transact
from members.errors import MemberNotFound
from members.models import Member
from members.outbox import Occurrence, publish, publish_many
from members.permissions import require_permission
from members.selectors import lock_member
from rewards.errors import HoldExpired, HoldNotActive, HoldNotFound
from rewards.models import PointsHold

from . import inputs

EXPIRED = "expired"
RELEASED_BY_STOREFRONT = "released"
REFUNDED_AFTER_CAPTURE = "refunded_after_capture"


@dataclass(frozen=True)
class HoldOutcome:
    hold: PointsHold
    created: bool


def hold_points(*, source: str, member: Any, amount: Any, order_id: Any, idempotency_key: Any) -> HoldOutcome:
    """Reserve `amount` available points for an order until captured, released or expired
    (ProgramSettings.hold_minutes). Never more than is available: it is a spend under the member lock."""
    if isinstance(member, str) and not member.strip():
        # The member is the request's path: a blank one names nobody (404), like any unknown id.
        raise MemberNotFound(f"No member with external_id {member!r}.")
    external_id = inputs.text(member, "member", max_length=64)
    amount = inputs.whole(amount, "amount")
    order_id = inputs.text(order_id, "order_id", max_length=128)
    key = inputs.text(idempotency_key, "idempotency_key", max_length=128)
    body_hash = inputs.fingerprint({"member": external_id, "amount": amount, "order_id": order_id})
    try:
        with transaction.atomic():
            return _hold(source, external_id, amount, order_id, key, body_hash)
    except IntegrityError:
        earlier = PointsHold.objects.filter(source=source, idempotency_key=key).first()
        if earlier is None:
            raise
        return _replay(earlier, body_hash)


def _replay(earlier: PointsHold, body_hash: str) -> HoldOutcome:
    if earlier.fingerprint != body_hash:
        raise IdempotencyConflict(f"idempotency_key {earlier.idempotency_key!r} was already used for another hold.")
    return HoldOutcome(earlier, created=False)


def _hold(source, external_id, amount, order_id, key, body_hash) -> HoldOutcome:
    member = lock_member(external_id=external_id)
    earlier = PointsHold.objects.filter(source=source, idempotency_key=key).first()
    if earlier is not None:
        return _replay(earlier, body_hash)
    check_can_transact(member)
    now = timezone.now()
    release_overdue_holds(member=member, now=now)
    spend = spend_points(
        member=member, amount=amount, reason=Reason(reason_codes.HELD_FOR_ORDER, {"order": order_id}), source=source
    )
    hold = PointsHold.objects.create(
        member=member,
        amount=amount,
        order_id=order_id,
        spend=spend,
        balance_after=Member.objects.values_list("points_available", flat=True).get(pk=member.pk),
        source=source,
        idempotency_key=key,
        fingerprint=body_hash,
        expires_at=now + timedelta(minutes=ProgramSettings.current().hold_minutes),
        created_at=now,
    )
    created = {
        "hold_id": hold.pk,
        "points": amount,
        "order_id": order_id,
        "source": source,
        "expires_at": hold.expires_at,
    }
    publish("hold.created", member=member, payload=created, occurred_at=now)
    return HoldOutcome(hold, created=True)


def released(hold: PointsHold, points: int) -> Occurrence:
    """hold.released, as the storefront, staff or the expiry job released it."""
    payload = {"hold_id": hold.pk, "points": points, "order_id": hold.order_id, "reason": hold.release_reason}
    return Occurrence("hold.released", payload, hold.member_id, hold.released_at)


def _locked_hold(hold_id: Any, source: str | None) -> PointsHold:
    """The hold under its member's lock. With `source` (a storefront), another storefront's hold is
    not found, in the same words as an id that does not exist."""
    not_found = HoldNotFound(f"No hold with id {hold_id}.")
    if not inputs.is_row_id(hold_id):
        raise not_found
    rows = PointsHold.objects.filter(pk=hold_id)
    if source is not None:
        rows = rows.filter(source=source)
    member_id = rows.values_list("member_id", flat=True).first()
    if member_id is None:
        raise not_found
    lock_member(member_id=member_id)
    return PointsHold.objects.get(pk=hold_id)


def _refund(hold: PointsHold, amount: int, code: str) -> None:
    reason = Reason(code, {"order": hold.order_id})
    refund_spend(spend=PointsEntry.objects.get(pk=hold.spend_id), amount=amount, reason=reason)


@transaction.atomic
def capture_hold(*, hold_id: Any, amount: Any = None, source: str | None = None) -> PointsHold:
    """Spend the held points for good; with `amount`, only that much, and the rest goes back. A second
    capture with the same amount returns the hold unchanged. A storefront (`source`) captures only
    its own holds."""
    hold = _locked_hold(hold_id, source)
    amount = hold.amount if amount is None else inputs.whole(amount, "amount", maximum=hold.amount)
    if hold.status == PointsHold.Status.CAPTURED:
        if amount != hold.captured_amount:
            raise IdempotencyConflict(f"Hold {hold.pk} was already captured for {hold.captured_amount} points.")
        return hold
    if hold.status != PointsHold.Status.HELD:
        raise HoldNotActive(f"Hold {hold.pk} is {hold.status}; it cannot be captured.")
    now = timezone.now()
    if hold.expires_at <= now:
        raise HoldExpired(f"Hold {hold.pk} expired at {hold.expires_at.isoformat()}; hold the points again.")
    if amount < hold.amount:
        _refund(hold, hold.amount - amount, reason_codes.HOLD_NOT_CAPTURED)
    hold.status, hold.captured_amount, hold.captured_at = PointsHold.Status.CAPTURED, amount, now
    hold.save(update_fields=["status", "captured_amount", "captured_at"])
    captured = {"hold_id": hold.pk, "points": amount, "order_id": hold.order_id}
    publish_many([Occurrence("hold.captured", captured, hold.member_id, now)])
    return hold


@transaction.atomic
def release_hold(*, hold_id: Any, actor=None, source: str | None = None) -> PointsHold:
    """Give held points back (the order was abandoned), or, after capture, refund them (the order was
    cancelled). Releasing a released hold changes nothing. A staff `actor` needs
    rewards.release_hold; a storefront (`source`) releases only its own holds."""
    require_permission(actor, "rewards.release_hold", "You may not release points holds.")
    hold = _locked_hold(hold_id, source)
    if hold.status == PointsHold.Status.RELEASED:
        return hold
    if hold.status == PointsHold.Status.HELD:
        points, reason = hold.amount, RELEASED_BY_STOREFRONT
        _refund(hold, points, reason_codes.HOLD_RELEASED)
    else:
        points, reason = hold.captured_amount, REFUNDED_AFTER_CAPTURE
        _refund(hold, points, reason_codes.HOLD_REFUNDED)
    hold.status, hold.released_at, hold.release_reason = PointsHold.Status.RELEASED, timezone.now(), reason
    hold.save(update_fields=["status", "released_at", "release_reason"])
    publish_many([released(hold, points)])
    return hold


def release_overdue_holds(*, member: Member, now: datetime) -> int:
    """Release the member's holds past their expiry before spending again (the job does the rest).
    Internal: the caller holds the member lock. Returns the points given back."""
    total = 0
    for hold in PointsHold.objects.filter(member=member, status=PointsHold.Status.HELD, expires_at__lte=now):
        _refund(hold, hold.amount, reason_codes.HOLD_EXPIRED)
        hold.status, hold.released_at, hold.release_reason = PointsHold.Status.RELEASED, now, EXPIRED
        hold.save(update_fields=["status", "released_at", "release_reason"])
        publish_many([released(hold, hold.amount)])
        total += hold.amount
    return total
