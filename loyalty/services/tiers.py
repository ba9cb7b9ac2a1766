from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.calculations import qualifying_tier, recalculated_tier
from loyalty.config import current_config
from loyalty.errors import InvalidInput
from loyalty.models import Event, ProgramSettings, Tier, TierChange
from members.models import Member
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
    (no period, so the scheduled recalculation still considers the member)."""
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
