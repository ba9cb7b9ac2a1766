"""Manual adjustments with maker-checker: staff ask, small ones apply at once, large ones wait for
someone else with the approve permission. Only approval writes to the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.errors import AdjustmentNotPending, InvalidInput, NotPermitted
from loyalty.models import Adjustment, AdjustmentReason, ProgramSettings
from members.models import Member

from .growth import adjust_growth
from .points import adjust_points

PERMISSION_FOR_KIND = {Adjustment.Kind.POINTS: "loyalty.adjust_points", Adjustment.Kind.GROWTH: "loyalty.adjust_growth"}
MAX_MEMBERS_PER_REQUEST = 10_000


def approval_limit(kind: str) -> int:
    program = ProgramSettings.current()
    return program.approval_limit_points if kind == Adjustment.Kind.POINTS else program.approval_limit_growth


def needs_approval(*, kind: str, amount: int, members: int) -> bool:
    """A request needs a second person when what it moves in all (amount × members) exceeds the limit."""
    return abs(amount) * members > approval_limit(kind)


def _check_request(kind, amount, reason, note, points_expire_at, requested_by, members: int) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in Adjustment.Kind.values:
        errors["kind"] = [f"One of {', '.join(Adjustment.Kind.values)}."]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        errors["amount"] = ["A non-zero whole number."]
    if reason not in AdjustmentReason.values:
        errors["reason"] = ["Choose a reason from the list."]
    elif reason == AdjustmentReason.OTHER and not note.strip():
        errors["note"] = ["Explain the adjustment when the reason is 'Other'."]
    if points_expire_at is not None:
        if kind != Adjustment.Kind.POINTS or not isinstance(amount, int) or amount <= 0:
            errors["points_expire_at"] = ["Only added points have an expiry."]
        elif points_expire_at <= timezone.now():
            errors["points_expire_at"] = ["The expiry must be in the future."]
    if not 1 <= members <= MAX_MEMBERS_PER_REQUEST:
        errors["members"] = [f"Between 1 and {MAX_MEMBERS_PER_REQUEST} members per request."]
    if errors:
        raise InvalidInput(
            "The adjustment is not valid: " + " ".join(m for ms in errors.values() for m in ms), fields=errors
        )
    if not requested_by.has_perm(PERMISSION_FOR_KIND[kind]):
        raise NotPermitted(f"You may not adjust {Adjustment.Kind(kind).label.lower()}.")


def request_adjustments(
    *,
    members: Sequence[Member],
    kind: str,
    amount: int,
    reason: str,
    note: str = "",
    points_expire_at: datetime | None = None,
    requested_by,
) -> list[Adjustment]:
    """One adjustment per member. Within the approval limit they are applied now (all or none);
    above it they are all left pending for approval."""
    note = note.strip()
    _check_request(kind, amount, reason, note, points_expire_at, requested_by, len(members))
    pending = needs_approval(kind=kind, amount=amount, members=len(members))
    batch = uuid.uuid4()
    with transaction.atomic():
        adjustments = [
            Adjustment.objects.create(
                member=member,
                kind=kind,
                amount=amount,
                reason=reason,
                note=note,
                points_expire_at=points_expire_at,
                status=Adjustment.Status.PENDING,
                requested_by=requested_by,
                batch=batch,
            )
            for member in sorted(members, key=lambda m: m.pk)  # id order: no deadlock with other lockers
        ]
        if not pending:
            for adjustment in adjustments:
                _apply(adjustment, decided_by=requested_by)
    return adjustments


def request_adjustment(*, member: Member, **request) -> Adjustment:
    return request_adjustments(members=[member], **request)[0]


def _apply(adjustment: Adjustment, *, decided_by) -> None:
    common = {"member": adjustment.member, "amount": adjustment.amount, "reason": adjustment.ledger_reason}
    if adjustment.kind == Adjustment.Kind.POINTS:
        adjustment.points_entry = adjust_points(**common, actor=decided_by, expires_at=adjustment.points_expire_at)
    else:
        adjustment.growth_entry = adjust_growth(**common, actor=decided_by)
    adjustment.status, adjustment.decided_by, adjustment.decided_at = (
        Adjustment.Status.APPLIED,
        decided_by,
        timezone.now(),
    )
    adjustment.save()


def _lock_pending(adjustment_ids: Sequence[int], approver) -> list[Adjustment]:
    if not approver.has_perm("loyalty.approve_adjustment"):
        raise NotPermitted("You may not approve or reject adjustments.")
    locked = list(
        Adjustment.objects.select_for_update(of=("self",))
        .select_related("member")
        .filter(pk__in=adjustment_ids)
        .order_by("member_id", "pk")
    )
    not_pending = [a for a in locked if a.status != Adjustment.Status.PENDING]
    if not_pending or len(locked) != len(set(adjustment_ids)):
        raise AdjustmentNotPending(
            f"{len(not_pending) or 'Some'} of the adjustments are no longer waiting for approval."
        )
    if any(a.requested_by_id == approver.pk for a in locked):
        raise NotPermitted("An adjustment must be approved by someone other than the person who asked for it.")
    return locked


@transaction.atomic
def approve_adjustments(*, adjustment_ids: Sequence[int], approver, note: str = "") -> list[Adjustment]:
    """Apply pending adjustments (all or none: a refusal, e.g. too few points left, applies none)."""
    adjustments = _lock_pending(adjustment_ids, approver)
    for adjustment in adjustments:
        adjustment.decision_note = note.strip()
        _apply(adjustment, decided_by=approver)
    return adjustments


@transaction.atomic
def reject_adjustments(*, adjustment_ids: Sequence[int], approver, note: str = "") -> list[Adjustment]:
    adjustments = _lock_pending(adjustment_ids, approver)
    now = timezone.now()
    for adjustment in adjustments:
        adjustment.status, adjustment.decided_by, adjustment.decided_at = Adjustment.Status.REJECTED, approver, now
        adjustment.decision_note = note.strip()
        adjustment.save()
    return adjustments
