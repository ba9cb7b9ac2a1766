"""The rewards' scheduled jobs for one chunk of members (first_id <= member id <= last_id), in the
chunk's transaction after its member rows are locked (the lock every service takes). A constant
number of set-based statements per chunk and benefit: bulk INSERTs and UPDATE ... WHERE id IN."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from loyalty import reason_codes
from loyalty.extensions import ChunkResult
from loyalty.models import PointsAllocation, PointsEntry, ProgramSettings
from loyalty.reason_codes import Reason
from loyalty.reasons import reason_fields
from loyalty.services import ledger
from loyalty.services.bulk import lock_members
from loyalty.services.bulk_credit import BulkCredit, credit_many
from members.models import Member
from members.outbox import Occurrence, publish_many
from rewards import calculations
from rewards.models import Benefit, BenefitGrant, Coupon, PointsHold

from .coupons import CouponOwner, issue_coupons
from .holds import EXPIRED, released


def _lock(first_id: int, last_id: int) -> None:
    with connection.cursor() as cursor:
        lock_members(cursor, first_id, last_id)


def _benefits(entitlement: str):
    usable_template = Q(coupon_quantity=0) | Q(coupon_template__is_active=True)
    return (
        Benefit.objects.filter(usable_template, is_active=True, entitlement=entitlement)
        .select_related("coupon_template")
        .order_by("pk")
    )


def issue_monthly_benefits(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """Monthly coupons of every active benefit to the active members of its tiers, once per month."""
    _lock(first_id, last_id)
    program = ProgramSettings.current()
    grant_period = calculations.month_key(as_of, program.zone)
    members, entries = set(), 0
    for benefit in _benefits(Benefit.Entitlement.MONTHLY_COUPONS):
        granted, written = _grant(benefit, first_id, last_id, as_of, grant_period, run_id, program)
        members.update(granted)
        entries += written
    return ChunkResult(members_changed=len(members), entries_written=entries)


def issue_birthday_gifts(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """Birthday gifts to members whose birthday month it is, once per year (run daily, so members who
    enrol or give their birthday during the month get it too)."""
    _lock(first_id, last_id)
    program = ProgramSettings.current()
    month = as_of.astimezone(program.zone).month
    grant_period = calculations.year_key(as_of, program.zone)
    members, entries = set(), 0
    for benefit in _benefits(Benefit.Entitlement.BIRTHDAY_GIFT):
        granted, written = _grant(
            benefit, first_id, last_id, as_of, grant_period, run_id, program, birthday__month=month
        )
        members.update(granted)
        entries += written
    return ChunkResult(members_changed=len(members), entries_written=entries)


def _grant(benefit, first_id, last_id, as_of, grant_period, run_id, program, **member_filter) -> tuple[list[int], int]:
    """Grant `benefit` for `grant_period` to the chunk's eligible members who do not have it yet.
    Returns the members granted and the rows written (grants, coupons, ledger entries)."""
    already = BenefitGrant.objects.filter(benefit=benefit, period=grant_period).values("member_id")
    eligible = list(
        Member.objects.filter(
            pk__range=(first_id, last_id),
            status=Member.Status.ACTIVE,
            tier__in=benefit.tiers.all(),
            **member_filter,
        )
        .exclude(pk__in=already)
        .order_by("pk")
        .values_list("pk", "tier_id")
    )
    if not eligible:
        return [], 0
    grants = BenefitGrant.objects.bulk_create(
        BenefitGrant(
            member_id=member_id,
            benefit=benefit,
            period=grant_period,
            tier_id=tier_id,
            coupon_count=benefit.coupon_quantity,
            points=benefit.points,
            growth=benefit.growth,
            job_run_id=run_id,
            granted_at=as_of,
        )
        for member_id, tier_id in eligible
    )
    written = len(grants)
    member_ids = [member_id for member_id, _ in eligible]
    publish_many([_granted(grant, benefit) for grant in grants])
    if benefit.coupon_quantity:
        owners = [CouponOwner(g.member_id, g.pk) for g in grants for _ in range(benefit.coupon_quantity)]
        written += len(
            issue_coupons(template=benefit.coupon_template, owners=owners, issued_at=as_of, zone=program.zone)
        )
    reason = Reason(reason_codes.BENEFIT, {"benefit": benefit.name, "period": grant_period})
    details = {"benefit": benefit.code}
    written += credit_many(
        [BulkCredit(member_id, benefit.points, benefit.growth, reason, details) for member_id in member_ids],
        at=as_of,
        program=program,
    )
    return member_ids, written


def _granted(grant: BenefitGrant, benefit: Benefit) -> Occurrence:
    payload = {
        "grant_id": grant.pk,
        "benefit": benefit.code,
        "period": grant.period,
        "coupons": grant.coupon_count,
        "points": grant.points,
        "growth": grant.growth,
    }
    return Occurrence("benefit.granted", payload, grant.member_id, grant.granted_at)


def expire_coupons(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """Active coupons whose window has ended become expired (use is refused past valid_until anyway;
    this keeps the member's coupon list honest). Their members are locked first, as the services
    lock them, so a checkout using one of these coupons waits or goes first."""
    due = Coupon.objects.filter(
        member_id__gte=first_id, member_id__lte=last_id, status=Coupon.Status.ACTIVE, valid_until__lte=as_of
    )
    members = sorted(set(due.values_list("member_id", flat=True)))
    if not members:
        return ChunkResult(0, 0)
    list(Member.objects.select_for_update().filter(pk__in=members).order_by("pk").values_list("pk", flat=True))
    expired = list(due.order_by("member_id", "pk").values_list("pk", "member_id", "template__code", "valid_until"))
    Coupon.objects.filter(pk__in=[pk for pk, _, _, _ in expired]).update(
        status=Coupon.Status.EXPIRED, updated_at=timezone.now()
    )
    publish_many(
        [
            Occurrence("coupon.expired", {"coupon_id": pk, "template": template}, member_id, valid_until)
            for pk, member_id, template, valid_until in expired
        ]
    )
    return ChunkResult(members_changed=len({member_id for _, member_id, _, _ in expired}), entries_written=len(expired))


def release_expired_holds(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """Holds not captured by their expiry: each hold's spend is refunded to its lots, one refund lot per
    allocation with the lot's expiry (what comes back after that expiry expires at once), as
    refund_spend does for one member."""
    _lock(first_id, last_id)
    holds = list(
        PointsHold.objects.filter(
            member_id__gte=first_id, member_id__lte=last_id, status=PointsHold.Status.HELD, expires_at__lte=as_of
        ).order_by("member_id", "pk")
    )
    if not holds:
        return ChunkResult(0, 0)
    allocations = PointsAllocation.objects.filter(debit_id__in=[hold.spend_id for hold in holds]).select_related("lot")
    order_of = {hold.spend_id: hold.order_id for hold in holds}
    refunds = PointsEntry.objects.bulk_create(
        PointsEntry(
            member_id=allocation.lot.member_id,
            kind=PointsEntry.Kind.REFUND,
            amount=allocation.amount,
            remaining=allocation.amount,
            created_at=as_of,
            expires_at=allocation.lot.expires_at,
            available_at=as_of,
            released_at=as_of,
            refunded_spend_id=allocation.debit_id,
            **reason_fields(Reason(reason_codes.HOLD_EXPIRED, {"order": order_of[allocation.debit_id]})),
        )
        for allocation in allocations.order_by("id")
    )
    overdue = [refund for refund in refunds if refund.expires_at is not None and refund.expires_at <= as_of]
    expiries = PointsEntry.objects.bulk_create(
        PointsEntry(
            member_id=refund.member_id,
            kind=PointsEntry.Kind.EXPIRE,
            amount=-refund.amount,
            expired_lot=refund,
            created_at=as_of,
            **reason_fields(ledger.REFUNDED_EXPIRED),
        )
        for refund in overdue
    )
    PointsEntry.objects.filter(pk__in=[refund.pk for refund in overdue]).update(remaining=0)
    back: dict[int, int] = defaultdict(int)
    for refund in refunds:
        back[refund.member_id] += refund.amount
    for refund in overdue:
        back[refund.member_id] -= refund.amount
    Member.objects.filter(pk__in=list(back)).update(
        points_available=F("points_available")
        + Case(*(When(pk=member_id, then=Value(points)) for member_id, points in back.items()), default=Value(0)),
        updated_at=timezone.now(),
    )
    PointsHold.objects.filter(pk__in=[hold.pk for hold in holds]).update(
        status=PointsHold.Status.RELEASED, released_at=as_of, release_reason=EXPIRED
    )
    publish_many(_released_holds(holds, refunds, overdue, as_of))
    return ChunkResult(members_changed=len(back), entries_written=len(refunds) + len(expiries))


def _released_holds(holds, refunds, overdue, as_of: datetime) -> list[Occurrence]:
    """Per hold, what release_overdue_holds publishes: the refund, what of it expired at once, the
    release."""
    refunded: dict[int, int] = defaultdict(int)
    expired: dict[int, int] = defaultdict(int)
    for refund in refunds:
        refunded[refund.refunded_spend_id] += refund.amount
    for refund in overdue:
        expired[refund.refunded_spend_id] += refund.amount
    occurrences = []
    for hold in holds:
        hold.status, hold.released_at, hold.release_reason = PointsHold.Status.RELEASED, as_of, EXPIRED
        member, spend = hold.member_id, hold.spend_id
        occurrences.append(Occurrence("points.refunded", {"points": refunded[spend], "spend_id": spend}, member, as_of))
        if expired[spend]:
            occurrences.append(Occurrence("points.expired", {"points": expired[spend]}, member, as_of))
        occurrences.append(released(hold, hold.amount))
    return occurrences
