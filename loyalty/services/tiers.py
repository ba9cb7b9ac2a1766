from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.calculations import qualifying_tier, recalculated_tier
from loyalty.config import current_config
from loyalty.models import Event, JobRun, ProgramSettings, Tier, TierChange
from loyalty.models.program import ReturnDowngrade
from members.errors import InvalidInput
from members.models import Member
from members.outbox import publish
from members.permissions import require_permission
from members.selectors import lock_member


def ladder() -> list[Tier]:
    return list(current_config().ladder)


def move_tier(
    member: Member,
    *,
    to: Tier,
    reason: str,
    at: datetime,
    event: Event | None = None,
    actor=None,
    period: str = "",
    note: str = "",
) -> TierChange:
    """Record a tier change and point the member at the new tier (the caller holds the lock and saves)."""
    publish(
        "tier.upgraded" if to.rank > member.tier.rank else "tier.downgraded",
        member=member,
        payload={"from": member.tier.code, "to": to.code, "reason": reason},
        occurred_at=at,
    )
    change = TierChange.objects.create(
        member=member,
        from_tier=member.tier,
        to_tier=to,
        reason=reason,
        event=event,
        actor=actor,
        period=period,
        growth_value=member.growth_value,
        note=note,
        created_at=at,
    )
    member.tier = to
    member.tier_since = at
    return change


def upgrade_if_qualified(
    member: Member, *, at: datetime, event: Event | None = None, ladder: Sequence[Tier] | None = None
) -> bool:
    """Earning upgrades at once (a growth value equal to a threshold qualifies); it never downgrades.
    `ladder`: the caller's copy of the current ladder, saving a read."""
    target = qualifying_tier(ladder or current_config().ladder, member.growth_value)
    if target.rank <= member.tier.rank:
        return False
    move_tier(member, to=target, reason=TierChange.Reason.UPGRADE, at=at, event=event)
    return True


RECALCULATION_JOB = "recalculate_tiers"


def last_recalculation_at() -> datetime | None:
    """The as-of moment of the latest scheduled recalculation that finished, or None if none has."""
    return (
        JobRun.objects.filter(job=RECALCULATION_JOB, dry_run=False, status=JobRun.Status.DONE)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .first()
    )


EARNED_MOVES = (TierChange.Reason.UPGRADE, TierChange.Reason.RETURN)


def return_floor(member: Member, ladder: Sequence[Tier]) -> Tier | None:
    """With return_downgrade = immediate, the lowest tier a return may take the member back to: the
    tier they held before the earning that moved them since the last recalculation — the moves
    (upgrades on earning, and returns) that led to their current tier, unbroken by a recalculation or
    by staff. Buying up to a tier and returning it, all at once or an order at a time, must not keep
    it, and a tier staff gave stays the floor. None when a return must not move the tier: the setting
    says at_recalculation, or the current tier was held at the last recalculation or given by staff
    (both wait for the next recalculation)."""
    if ProgramSettings.current().return_downgrade != ReturnDowngrade.IMMEDIATE:
        return None
    since = last_recalculation_at()
    changes = TierChange.objects.filter(member=member).order_by("-created_at", "-id")
    if since is not None:
        changes = changes.filter(created_at__gt=since)
    floor, upgraded = None, False
    for reason, from_tier_id in changes.values_list("reason", "from_tier_id").iterator(chunk_size=50):
        if reason not in EARNED_MOVES:
            break
        floor, upgraded = from_tier_id, upgraded or reason == TierChange.Reason.UPGRADE
    if not upgraded:
        return None
    return next((tier for tier in ladder if tier.pk == floor), ladder[0])


@transaction.atomic
def recalculate_member_tier(*, member: Member, period: str, as_of: datetime | None = None) -> TierChange | None:
    """One member's scheduled recalculation per the downgrade policy; at most one change per period."""
    member = lock_member(member_id=member.pk)
    if TierChange.objects.filter(member=member, period=period).exists():
        return None
    policy = ProgramSettings.current().downgrade_policy
    target = recalculated_tier(ladder(), member.tier, member.growth_value, policy)
    if target.pk == member.tier_id:
        return None
    change = move_tier(
        member, to=target, reason=TierChange.Reason.RECALCULATION, at=as_of or timezone.now(), period=period
    )
    member.save(update_fields=["tier", "tier_since", "updated_at"])
    return change


@transaction.atomic
def change_tier_manually(*, member: Member, tier: Tier, actor, reason: str) -> TierChange:
    require_permission(actor, "members.change_member", "You may not change members' tiers.")
    if not reason.strip():
        raise InvalidInput("A reason is required.", fields={"reason": ["This field is required."]})
    member = lock_member(member_id=member.pk)
    if tier.pk == member.tier_id:
        raise InvalidInput(f"The member already holds {tier.name}.", fields={"tier": ["Unchanged."]})
    change = move_tier(member, to=tier, reason=TierChange.Reason.MANUAL, at=timezone.now(), actor=actor, note=reason)
    member.save(update_fields=["tier", "tier_since", "updated_at"])
    return change


@transaction.atomic
def recalculate_tier_now(*, member: Member, actor) -> TierChange | None:
    """Apply the downgrade policy and missed upgrades to one member now, outside the monthly run
    (no period, so the scheduled recalculation still considers the member). A staff `actor` needs
    members.change_member."""
    require_permission(actor, "members.change_member", "You may not recalculate members' tiers.")
    member = lock_member(member_id=member.pk)
    policy = ProgramSettings.current().downgrade_policy
    target = recalculated_tier(ladder(), member.tier, member.growth_value, policy)
    if target.pk == member.tier_id:
        return None
    change = move_tier(
        member,
        to=target,
        reason=TierChange.Reason.RECALCULATION,
        at=timezone.now(),
        actor=actor,
        note="Recalculated from the admin",
    )
    member.save(update_fields=["tier", "tier_since", "updated_at"])
    return change
