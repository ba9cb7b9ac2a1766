"""Adjusting and expiring growth value."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.models import GrowthEntry, ProgramSettings
from loyalty.reason_codes import Reason
from members.errors import InvalidInput
from members.models import Member
from members.outbox import publish
from members.selectors import lock_member

from . import ledger
from .members_guard import require_adjustment
from .tiers import upgrade_if_qualified


@transaction.atomic
def adjust_growth(*, member: Member, amount: int, reason: str | Reason, actor) -> GrowthEntry:
    """A manual correction by staff. Adding growth upgrades at once like earning does; taking growth
    never takes more than the member has and, like any deduction, waits for recalculation to downgrade."""
    require_adjustment(amount=amount, reason=reason, actor=actor)
    member = lock_member(member_id=member.pk)
    now = timezone.now()
    if amount > 0:
        entry = ledger.credit_growth(
            member,
            program=ProgramSettings.current(),
            amount=amount,
            kind=GrowthEntry.Kind.ADJUST,
            at=now,
            reason=reason,
            actor=actor,
        )
        upgrade_if_qualified(member, at=now)
    else:
        if member.growth_value < -amount:
            raise InvalidInput(
                f"Member {member.external_id} has {member.growth_value} growth; cannot take {-amount}.",
                fields={"amount": ["More than the member's growth value."]},
            )
        taken, _ = ledger.debit_growth(
            member, amount=-amount, kind=GrowthEntry.Kind.ADJUST, at=now, reason=reason, actor=actor
        )
        if taken is None:
            raise RuntimeError(
                f"Member {member.external_id}: cached growth disagrees with the lots; run loyalty_audit."
            )
        entry = taken
    member.save(update_fields=["growth_value", "tier", "tier_since", "updated_at"])
    publish("growth.changed", member=member, payload={"growth": amount, "kind": "adjust"}, occurred_at=now)
    return entry


@transaction.atomic
def expire_growth(*, member: Member, as_of: datetime) -> int:
    """Every growth lot that has left the window by `as_of` loses its remainder. Returns growth expired.
    The tier is not touched: the scheduled recalculation decides downgrades."""
    member = lock_member(member_id=member.pk)
    lots = GrowthEntry.objects.filter(member=member, remaining__gt=0, expires_at__lte=as_of)
    lots = lots.order_by("expires_at", "id")
    expired = ledger.expire_growth_lots(member, lots, at=as_of)
    ledger.save_balances(member)
    if expired:
        publish("growth.changed", member=member, payload={"growth": -expired, "kind": "expire"}, occurred_at=as_of)
    return expired
