"""Manual adjustments with maker-checker: staff ask, small ones apply at once, large ones wait for
someone else with the approve permission. Only approval writes to the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from loyalty.errors import AdjustmentNotPending
from loyalty.models import Adjustment, AdjustmentReason, ApprovalLimitChange, ProgramSettings
from members.errors import InvalidInput, NotPermitted
from members.models import Member
from members.outbox import Occurrence, publish_many
from members.permissions import require_permission

from .growth import adjust_growth
from .points import adjust_points

PERMISSION_FOR_KIND: dict[str, str] = {
    Adjustment.Kind.POINTS: "loyalty.adjust_points",
    Adjustment.Kind.GROWTH: "loyalty.adjust_growth",
}
MAX_MEMBERS_PER_REQUEST = 10_000
# The most one adjustment may add or take (docs/admin.md): ten million yuan at the default point value.
MAX_ADJUSTMENT = 1_000_000_000
# What one person applied to one member without a second person is counted over this window.
ROLLING_WINDOW = timedelta(hours=24)


def approval_limit(kind: str) -> int:
    program = ProgramSettings.current()
    return program.approval_limit_points if kind == Adjustment.Kind.POINTS else program.approval_limit_growth


def needs_approval(*, kind: str, amount: int, members: int) -> bool:
    """A request needs a second person when what it moves in all (amount × members) exceeds the limit."""
    return abs(amount) * members > approval_limit(kind)


def applied_without_approval(*, kind: str, requester, member_ids: Sequence[int], now: datetime) -> int:
    """The most that `requester` applied on their own (no second person) to any one of these members
    in the rolling window, counting each adjustment's size whatever its sign."""
    return (
        Adjustment.objects.filter(
            kind=kind,
            status=Adjustment.Status.APPLIED,
            requested_by=requester,
            decided_by=requester,
            member_id__in=member_ids,
            decided_at__gt=now - ROLLING_WINDOW,
        )
        .values("member_id")
        .annotate(moved=Sum(Abs("amount")))
        .aggregate(most=Max("moved"))["most"]
        or 0
    )


def would_need_approval(*, kind: str, amount: int, member_ids: Sequence[int], requester, now: datetime) -> bool:
    """Whether a request waits for a second person: when its total (amount × members) is above the
    approval limit, or when, for some member, it and what the requester applied on their own to that
    member in the last 24 hours together are. Ten adjustments of 1,000 in a row are 10,000, not ten
    times 1,000."""
    if needs_approval(kind=kind, amount=amount, members=len(member_ids)):
        return True
    earlier = applied_without_approval(kind=kind, requester=requester, member_ids=member_ids, now=now)
    return earlier + abs(amount) > approval_limit(kind)


def _check_request(kind, amount, reason, note, points_expire_at, requested_by, members: int) -> None:
    errors: dict[str, list[str]] = {}
    if kind not in Adjustment.Kind.values:
        errors["kind"] = [f"One of {', '.join(Adjustment.Kind.values)}."]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        errors["amount"] = ["A non-zero whole number."]
    elif abs(amount) > MAX_ADJUSTMENT:
        errors["amount"] = [f"At most {MAX_ADJUSTMENT:,} either way."]
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
    above it (would_need_approval) they are all left pending for approval."""
    note = note.strip()
    _check_request(kind, amount, reason, note, points_expire_at, requested_by, len(members))
    batch = uuid.uuid4()
    with transaction.atomic():
        # The members are locked before the rolling window is counted: two requests for one member
        # at the same moment would otherwise each see the other's adjustment as not yet applied.
        member_ids = list(
            Member.objects.select_for_update()
            .filter(pk__in=[m.pk for m in members])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        pending = would_need_approval(
            kind=kind, amount=amount, member_ids=member_ids, requester=requested_by, now=timezone.now()
        )
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
        publish_many([_occurrence("adjustment.requested", a, needs_approval=pending) for a in adjustments])
        if not pending:
            for adjustment in adjustments:
                _apply(adjustment, decided_by=requested_by)
            publish_many([_occurrence("adjustment.decided", a, decision="applied") for a in adjustments])
    return adjustments


def _occurrence(event_type: str, adjustment: Adjustment, **details) -> Occurrence:
    payload = {"adjustment_id": adjustment.pk, "kind": adjustment.kind, "amount": adjustment.amount, **details}
    return Occurrence(event_type, payload, adjustment.member_id)


def request_adjustment(*, member: Member, **request) -> Adjustment:
    return request_adjustments(members=[member], **request)[0]


def _apply(adjustment: Adjustment, *, decided_by) -> None:
    member, amount, reason = adjustment.member, adjustment.amount, adjustment.ledger_reason
    if adjustment.kind == Adjustment.Kind.POINTS:
        adjustment.points_entry = adjust_points(
            member=member, amount=amount, reason=reason, actor=decided_by, expires_at=adjustment.points_expire_at
        )
    else:
        adjustment.growth_entry = adjust_growth(member=member, amount=amount, reason=reason, actor=decided_by)
    adjustment.status, adjustment.decided_by, adjustment.decided_at = (
        Adjustment.Status.APPLIED,
        decided_by,
        timezone.now(),
    )
    adjustment.requester_notified = decided_by.pk == adjustment.requested_by_id  # applied at once: nothing to tell
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
    publish_many([_occurrence("adjustment.decided", a, decision="approved") for a in adjustments])
    return adjustments


@transaction.atomic
def reject_adjustments(*, adjustment_ids: Sequence[int], approver, note: str = "") -> list[Adjustment]:
    adjustments = _lock_pending(adjustment_ids, approver)
    now = timezone.now()
    for adjustment in adjustments:
        adjustment.status, adjustment.decided_by, adjustment.decided_at = Adjustment.Status.REJECTED, approver, now
        adjustment.decision_note = note.strip()
        adjustment.save()
    publish_many([_occurrence("adjustment.decided", a, decision="rejected") for a in adjustments])
    return adjustments


# --- approval limits --------------------------------------------------------------------------------

LIMIT_PERMISSION = "loyalty.change_approval_limits"
LIMIT_FIELD_FOR_KIND: dict[str, str] = {
    Adjustment.Kind.POINTS: "approval_limit_points",
    Adjustment.Kind.GROWTH: "approval_limit_growth",
}
# A limit above what the largest request can move (the largest adjustment for the most members) means
# no limit; anything higher is a typo.
MAX_APPROVAL_LIMIT = MAX_ADJUSTMENT * MAX_MEMBERS_PER_REQUEST


def request_limit_change(*, kind: str, limit: int, requested_by, note: str = "") -> ApprovalLimitChange:
    """Change an approval limit. Lowering it applies at once; raising it waits for a second person
    with the same permission (approve_limit_change). Either way the row records who asked, and the
    settings' configuration history the value itself."""
    require_permission(requested_by, LIMIT_PERMISSION, "You may not change the approval limits.")
    errors: dict[str, list[str]] = {}
    if kind not in LIMIT_FIELD_FOR_KIND:
        errors["kind"] = [f"One of {', '.join(LIMIT_FIELD_FOR_KIND)}."]
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= MAX_APPROVAL_LIMIT:
        errors["new_limit"] = [f"A whole number from 0 to {MAX_APPROVAL_LIMIT:,}."]
    if errors:
        raise InvalidInput("The approval limit is not valid.", fields=errors)
    note = note.strip()
    with transaction.atomic():
        program = _locked_settings()
        current = getattr(program, LIMIT_FIELD_FOR_KIND[kind])
        if limit == current:
            raise InvalidInput(f"The limit is {current:,} already.", fields={"new_limit": ["Unchanged."]})
        change = ApprovalLimitChange.objects.create(
            kind=kind,
            previous_limit=current,
            new_limit=limit,
            note=note,
            status=ApprovalLimitChange.Status.PENDING,
            requested_by=requested_by,
        )
        if limit < current:
            _apply_limit(change, program, decided_by=requested_by)
    return change


def _locked_settings() -> ProgramSettings:
    ProgramSettings.current()  # the row exists from then on
    return ProgramSettings.objects.select_for_update().get(pk=ProgramSettings.SINGLETON_PK)


def _apply_limit(change: ApprovalLimitChange, program: ProgramSettings, *, decided_by) -> None:
    field = LIMIT_FIELD_FOR_KIND[change.kind]
    change.previous_limit = getattr(program, field)
    setattr(program, field, change.new_limit)
    program.save(update_fields=[field, "updated_at"])  # save(): the configuration history records it
    change.status, change.decided_by, change.decided_at = ApprovalLimitChange.Status.APPLIED, decided_by, timezone.now()
    change.save()


def _locked_pending_limit_change(change_id: int, approver) -> ApprovalLimitChange:
    require_permission(approver, LIMIT_PERMISSION, "You may not approve or reject approval limit changes.")
    change = ApprovalLimitChange.objects.select_for_update().filter(pk=change_id).first()
    if change is None or change.status != ApprovalLimitChange.Status.PENDING:
        raise AdjustmentNotPending("The approval limit change is no longer waiting for approval.")
    if change.requested_by_id == approver.pk:
        raise NotPermitted("A raise of an approval limit must be approved by someone other than who asked for it.")
    return change


@transaction.atomic
def approve_limit_change(*, change_id: int, approver, note: str = "") -> ApprovalLimitChange:
    program = _locked_settings()
    change = _locked_pending_limit_change(change_id, approver)
    change.decision_note = note.strip()
    _apply_limit(change, program, decided_by=approver)
    return change


@transaction.atomic
def reject_limit_change(*, change_id: int, approver, note: str = "") -> ApprovalLimitChange:
    change = _locked_pending_limit_change(change_id, approver)
    change.status, change.decided_by, change.decided_at = (
        ApprovalLimitChange.Status.REJECTED,
        approver,
        timezone.now(),
    )
    change.decision_note = note.strip()
    change.save()
    return change


NOTICES_AT_ONCE = 20


@transaction.atomic
def take_decision_notices(*, requester) -> list[Adjustment]:
    """The requester's adjustments someone else decided since they were last told, now marked told:
    the admin shows them once, on the requester's next page."""
    decided = list(
        Adjustment.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("member", "decided_by")
        .filter(requested_by=requester, requester_notified=False)
        .exclude(status=Adjustment.Status.PENDING)
        .order_by("decided_at", "pk")[:NOTICES_AT_ONCE]
    )
    Adjustment.objects.filter(pk__in=[a.pk for a in decided]).update(requester_notified=True)
    return decided
