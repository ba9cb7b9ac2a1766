"""Redeeming rewards for points, cancelling redemptions and moving goods through fulfilment.

Locks, always in this order: the member row, then the reward row (its stock counter), then pool
codes or coupons. Every function here locks the member first, so redemptions, holds and spends of
one member queue up, and the stock counter is held only for the last few statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from loyalty import reason_codes
from loyalty.errors import IdempotencyConflict
from loyalty.models import PointsEntry, ProgramSettings, Tier
from loyalty.reason_codes import Reason
from loyalty.services import refund_spend, spend_points
from loyalty.services.members_guard import check_can_transact
from members.errors import InvalidInput
from members.models import Member
from members.outbox import Occurrence, publish, publish_many
from members.permissions import require_permission
from members.selectors import lock_member
from rewards import calculations
from rewards.errors import (
    InvalidFulfilment,
    LimitReached,
    OutOfStock,
    RedemptionNotCancellable,
    RedemptionNotFound,
    RewardNotFound,
    RewardUnavailable,
    TierRequired,
)
from rewards.models import Coupon, PoolCode, Redemption, Reward

from . import inputs
from .coupons import CouponOwner, issue_coupons, take_pool_codes
from .holds import release_overdue_holds

MAX_QUANTITY = 100


@dataclass(frozen=True)
class RedemptionOutcome:
    redemption: Redemption
    created: bool  # False: a replay of the same idempotency key, nothing was done


def redeem(
    *,
    source: str,
    member: Any,
    reward: Any,
    idempotency_key: Any,
    quantity: Any = 1,
    shipping_address: Any = "",
) -> RedemptionOutcome:
    """Spend the member's points on `quantity` units of a reward (its code). The same
    (source, idempotency_key) again returns the first redemption; with a different body it is an
    IdempotencyConflict."""
    external_id = inputs.text(member, "member", max_length=64)
    reward_code = inputs.text(reward, "reward", max_length=64)
    key = inputs.text(idempotency_key, "idempotency_key", max_length=128)
    quantity = inputs.whole(quantity, "quantity", maximum=MAX_QUANTITY)
    address = inputs.text(shipping_address, "shipping_address", max_length=1000, required=False)
    body_hash = inputs.fingerprint(
        {"member": external_id, "reward": reward_code, "quantity": quantity, "shipping_address": address}
    )
    try:
        with transaction.atomic():
            return _redeem(source, external_id, reward_code, key, quantity, address, body_hash)
    except IntegrityError:
        # Two first deliveries of one key for different members: the loser sees the winner's row.
        earlier = Redemption.objects.filter(source=source, idempotency_key=key).first()
        if earlier is None:
            raise
        return _replay(earlier, body_hash)


def _replay(earlier: Redemption, body_hash: str) -> RedemptionOutcome:
    if earlier.fingerprint != body_hash:
        raise IdempotencyConflict(
            f"idempotency_key {earlier.idempotency_key!r} was already used for a different redemption."
        )
    return RedemptionOutcome(earlier, created=False)


def _redeem(source, external_id, reward_code, key, quantity, address, body_hash) -> RedemptionOutcome:
    member = lock_member(external_id=external_id)
    earlier = Redemption.objects.filter(source=source, idempotency_key=key).first()
    if earlier is not None:
        return _replay(earlier, body_hash)
    check_can_transact(member)
    reward = Reward.objects.select_related("coupon_template", "min_tier").filter(code=reward_code).first()
    if reward is None:
        raise RewardNotFound(f"No reward with code {reward_code!r}.")
    now = timezone.now()
    program = ProgramSettings.current()
    _check_eligible(member, reward, quantity, now, program)
    if reward.kind == Reward.Kind.GOODS and not address:
        raise InvalidInput("Goods need a shipping address.", fields={"shipping_address": ["Required for goods."]})
    release_overdue_holds(member=member, now=now)
    cost = reward.points_cost * quantity
    spend = spend_points(
        member=member,
        amount=cost,
        reason=Reason(reason_codes.REDEEMED, {"quantity": quantity, "reward": reward.name}),
        source=source,
    )
    _take_stock(reward, quantity)
    redemption = Redemption.objects.create(
        member=member,
        reward=reward,
        quantity=quantity,
        points_spent=cost,
        spend=spend,
        balance_after=Member.objects.values_list("points_available", flat=True).get(pk=member.pk),
        status=Redemption.Status.PENDING if reward.kind == Reward.Kind.GOODS else Redemption.Status.COMPLETED,
        source=source,
        idempotency_key=key,
        fingerprint=body_hash,
        shipping_address=address,
        created_at=now,
    )
    created = {
        "redemption_id": redemption.pk,
        "reward": reward.code,
        "quantity": quantity,
        "points": cost,
        "status": redemption.status,
        "source": source,
    }
    publish("redemption.created", member=member, payload=created, occurred_at=now)
    _deliver(redemption, reward, now, program)
    return RedemptionOutcome(redemption, created=True)


def reward_on_offer(reward: Reward, now: datetime) -> bool:
    if not reward.is_active:
        return False
    if reward.visible_from is not None and now < reward.visible_from:
        return False
    return reward.visible_until is None or now < reward.visible_until


def redeemed_in_window(member: Member, reward: Reward, now: datetime, zone) -> int:
    start, end = calculations.limit_window(reward.limit_period, now, zone)
    rows = Redemption.objects.filter(member=member, reward=reward).exclude(status=Redemption.Status.CANCELLED)
    if start is not None:
        rows = rows.filter(created_at__gte=start, created_at__lt=end)
    return rows.aggregate(total=Sum("quantity"))["total"] or 0


def _check_eligible(member: Member, reward: Reward, quantity: int, now: datetime, program) -> None:
    if not reward_on_offer(reward, now):
        raise RewardUnavailable(f"Reward {reward.code} is not on offer now.")
    if reward.min_tier is not None:
        rank = Tier.objects.values_list("rank", flat=True).get(pk=member.tier_id)
        if rank < reward.min_tier.rank:
            raise TierRequired(f"Reward {reward.code} needs tier {reward.min_tier.name} or higher.")
    if reward.per_member_limit is not None:
        taken = redeemed_in_window(member, reward, now, program.zone)
        if taken + quantity > reward.per_member_limit:
            raise LimitReached(
                f"Reward {reward.code} allows {reward.per_member_limit} per member ({reward.limit_period}); "
                f"{taken} already redeemed."
            )
    if reward.stock_left is not None and reward.stock_left < quantity:
        raise OutOfStock(f"Reward {reward.code} has {reward.stock_left} left.")


def _take_stock(reward: Reward, quantity: int) -> None:
    """One conditional UPDATE: it row-locks the reward and never lets redeemed exceed the stock."""
    rows = Reward.objects.filter(pk=reward.pk)
    if reward.stock is not None:
        rows = rows.filter(redeemed_quantity__lte=F("stock") - quantity)
    if rows.update(redeemed_quantity=F("redeemed_quantity") + quantity) == 0:
        raise OutOfStock(f"Reward {reward.code} is out of stock.")


def _deliver(redemption: Redemption, reward: Reward, now: datetime, program) -> None:
    owners = [CouponOwner(member_id=redemption.member_id)] * redemption.quantity
    template = reward.coupon_template
    needs: dict[str, object] = {
        Reward.Kind.COUPON: template,
        Reward.Kind.POINTS_TO_CASH: template,
        Reward.Kind.CODE: reward.code_pool_id,
    }
    if reward.kind in needs and needs[reward.kind] is None:  # the reward's checks require it; data changed by hand
        raise RewardUnavailable(f"Reward {reward.code} has nothing to hand out.")
    if reward.kind == Reward.Kind.COUPON and template is not None:
        issue_coupons(template=template, owners=owners, issued_at=now, zone=program.zone, redemption=redemption)
    elif reward.kind == Reward.Kind.POINTS_TO_CASH and template is not None:
        issue_coupons(
            template=template,
            owners=owners,
            issued_at=now,
            zone=program.zone,
            value=reward.cash_value,
            redemption=redemption,
        )
    elif reward.kind == Reward.Kind.CODE and reward.code_pool_id is not None:
        take_pool_codes(
            reward.code_pool_id,
            redemption.quantity,
            member_ids=[o.member_id for o in owners],
            at=now,
            redemption=redemption,
        )


def _locked_redemption(redemption_id: Any, source: str | None) -> tuple[Member, Redemption]:
    """The redemption under its member's lock. With `source` (a storefront), another storefront's
    redemption is not found, in the same words as an id that does not exist: ids are sequential, and
    one storefront must not learn from them what another's members redeemed."""
    not_found = RedemptionNotFound(f"No redemption with id {redemption_id}.")
    if not inputs.is_row_id(redemption_id):
        raise not_found
    rows = Redemption.objects.filter(pk=redemption_id)
    if source is not None:
        rows = rows.filter(source=source)
    member_id = rows.values_list("member_id", flat=True).first()
    if member_id is None:
        raise not_found
    member = lock_member(member_id=member_id)
    return member, Redemption.objects.select_related("reward").get(pk=redemption_id)


@transaction.atomic
def cancel_redemption(*, redemption_id: Any, reason: Any = "", actor=None, source: str | None = None) -> Redemption:
    """Give the points back to the lots they came from (with their expiry), restore the stock and
    void what was handed out. Goods can be cancelled until shipped; a coupon already used blocks it.
    Cancelling a cancelled redemption changes nothing. A staff `actor` needs
    rewards.cancel_redemption; a storefront (`source`) may cancel only its own redemptions."""
    require_permission(actor, "rewards.cancel_redemption", "You may not cancel redemptions.")
    note = inputs.text(reason, "reason", max_length=255, required=False)
    member, redemption = _locked_redemption(redemption_id, source)
    if redemption.status == Redemption.Status.CANCELLED:
        return redemption
    if not calculations.can_move(redemption.status, calculations.CANCELLED):
        raise RedemptionNotCancellable(f"Redemption {redemption.pk} is {redemption.status}; it cannot be cancelled.")
    coupons = Coupon.objects.select_for_update().filter(redemption=redemption)
    if any(coupon.status == Coupon.Status.USED for coupon in coupons):
        raise RedemptionNotCancellable(f"Redemption {redemption.pk} has a coupon that was already used.")
    voided = list(coupons.filter(status=Coupon.Status.ACTIVE).values_list("pk", "template__code"))
    coupons.filter(status=Coupon.Status.ACTIVE).update(status=Coupon.Status.VOID, updated_at=timezone.now())
    publish_many(
        [
            Occurrence(
                "coupon.voided", {"coupon_id": pk, "template": template, "redemption_id": redemption.pk}, member.pk
            )
            for pk, template in voided
        ]
    )
    # A partner code once shown may have been copied: it is voided, never handed out again.
    PoolCode.objects.filter(redemption=redemption).update(status=PoolCode.Status.VOID)
    refund_spend(
        spend=PointsEntry.objects.get(pk=redemption.spend_id),
        reason=Reason(reason_codes.REDEMPTION_CANCELLED, {"reward": redemption.reward.name, "note": note}),
        actor=actor,
    )
    Reward.objects.filter(pk=redemption.reward_id).update(
        redeemed_quantity=F("redeemed_quantity") - redemption.quantity
    )
    redemption.status = Redemption.Status.CANCELLED
    redemption.note = note or redemption.note
    redemption.save(update_fields=["status", "note", "updated_at"])
    cancelled = {"redemption_id": redemption.pk, "points_refunded": redemption.points_spent}
    publish("redemption.cancelled", member=member, payload=cancelled)
    return redemption


@transaction.atomic
def move_fulfilment(
    *, redemption_id: int, status: str, note: str = "", carrier: str = "", tracking_number: str = "", actor=None
) -> Redemption:
    """Goods: pending -> shipped -> delivered (cancelling goes through cancel_redemption). Shipping
    records the carrier and the tracking number the member will want to see. A staff `actor` needs
    rewards.fulfil_redemption."""
    require_permission(actor, "rewards.fulfil_redemption", "You may not move redemptions through fulfilment.")
    if status not in (Redemption.Status.SHIPPED, Redemption.Status.DELIVERED):
        raise InvalidFulfilment(f"{status!r} is not a fulfilment step; use shipped or delivered.")
    note = inputs.text(note, "note", max_length=255, required=False)
    carrier = inputs.text(carrier, "carrier", max_length=64, required=False)
    tracking_number = inputs.text(tracking_number, "tracking_number", max_length=64, required=False)
    member, redemption = _locked_redemption(redemption_id, None)
    if redemption.reward.kind != Reward.Kind.GOODS or not calculations.can_move(redemption.status, status):
        raise InvalidFulfilment(f"Redemption {redemption.pk} is {redemption.status}; it cannot become {status}.")
    was, redemption.status = redemption.status, status
    now = timezone.now()
    if status == Redemption.Status.SHIPPED:
        redemption.shipped_at = now
        redemption.carrier = carrier or redemption.carrier
        redemption.tracking_number = tracking_number or redemption.tracking_number
    else:
        redemption.delivered_at = now
    if note:
        redemption.note = note
    redemption.save(
        update_fields=["status", "note", "carrier", "tracking_number", "shipped_at", "delivered_at", "updated_at"]
    )
    moved = {
        "redemption_id": redemption.pk,
        "from": was,
        "to": status,
        "carrier": redemption.carrier,
        "tracking_number": redemption.tracking_number,
    }
    publish("redemption.fulfilment_changed", member=member, payload=moved)
    return redemption


def erase_shipping_addresses(member) -> None:
    """Anonymising (loyalty.extensions.personal_data_erasers): where the member's goods were sent."""
    Redemption.objects.filter(member=member).exclude(shipping_address="").update(shipping_address="")
