"""Issuing coupons (for redemptions and benefit grants) and the storefront's use and release of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from members.errors import InvalidInput
from members.outbox import Occurrence, publish, publish_many
from members.permissions import require_permission
from members.selectors import lock_member
from rewards import calculations
from rewards.errors import CouponNotFound, CouponNotReleasable, CouponNotUsable, OutOfStock, RewardUnavailable
from rewards.models import Coupon, CouponTemplate, PoolCode

from . import inputs


@dataclass(frozen=True)
class CouponOwner:
    member_id: int
    grant_id: int | None = None


def validity_window(template: CouponTemplate, issued_at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The coupon window, or RewardUnavailable if a coupon issued now could never be used."""
    valid_from, valid_until = calculations.coupon_validity(template.validity, issued_at, zone)
    if valid_until <= valid_from or valid_until <= issued_at:
        raise RewardUnavailable(f"Coupon template {template.code} is no longer valid.")
    return valid_from, valid_until


def take_pool_codes(pool_id: int, count: int, *, member_ids: list[int], at: datetime, redemption=None) -> list[str]:
    """The next `count` available codes of a pool, marked issued. Rows another transaction is handing
    out are skipped rather than waited for; fewer than `count` left is OutOfStock."""
    codes = list(
        PoolCode.objects.select_for_update(skip_locked=True)
        .filter(pool_id=pool_id, status=PoolCode.Status.AVAILABLE)
        .order_by("id")[:count]
    )
    if len(codes) < count:
        raise OutOfStock(f"The code pool has {len(codes)} codes left, {count} needed.")
    for code, member_id in zip(codes, member_ids, strict=True):
        code.status, code.member_id, code.issued_at, code.redemption = PoolCode.Status.ISSUED, member_id, at, redemption
    PoolCode.objects.bulk_update(codes, ["status", "member", "issued_at", "redemption"])
    return [code.code for code in codes]


def issue_coupons(
    *,
    template: CouponTemplate,
    owners: list[CouponOwner],
    issued_at: datetime,
    zone: ZoneInfo,
    value: Decimal | None = None,
    redemption=None,
) -> list[Coupon]:
    """One coupon per owner in one INSERT; codes generated, or taken from the template's code pool.
    Internal: callers hold the locks of what they change."""
    valid_from, valid_until = validity_window(template, issued_at, zone)
    member_ids = [owner.member_id for owner in owners]
    if template.code_pool_id is not None:
        codes = take_pool_codes(template.code_pool_id, len(owners), member_ids=member_ids, at=issued_at)
    else:
        codes = _generated_codes(len(owners))
    coupons = [
        Coupon(
            code=code,
            template=template,
            member_id=owner.member_id,
            grant_id=owner.grant_id,
            redemption=redemption,
            kind=CouponTemplate.Kind.AMOUNT_OFF if value is not None else template.kind,
            value=template.value if value is None else value,
            min_spend=template.min_spend,
            valid_from=valid_from,
            valid_until=valid_until,
            issued_at=issued_at,
        )
        for code, owner in zip(codes, owners, strict=True)
    ]
    coupons = Coupon.objects.bulk_create(coupons)
    publish_many([_issued(coupon, template) for coupon in coupons])
    return coupons


def _issued(coupon: Coupon, template: CouponTemplate) -> Occurrence:
    """coupon.issued: the coupon's id and terms, never its code (a bearer credential)."""
    payload = {
        "coupon_id": coupon.pk,
        "template": template.code,
        "kind": coupon.kind,
        "value": coupon.value,
        "valid_from": coupon.valid_from,
        "valid_until": coupon.valid_until,
        "redemption_id": coupon.redemption_id,
        "grant_id": coupon.grant_id,
    }
    return Occurrence("coupon.issued", payload, coupon.member_id, coupon.issued_at)


def _published(event_type: str, coupon: Coupon, **details) -> None:
    payload = {"coupon_id": coupon.pk, "template": coupon.template.code, **details}
    publish(event_type, member=coupon.member, payload=payload)


def _generated_codes(count: int) -> list[str]:
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(calculations.new_coupon_code())
    return list(codes)


def _locked_coupon(code: Any) -> Coupon:
    """The coupon under its member's lock, taken first as every service does (a coupon and its
    member's other changes then never deadlock, and the member's domain events keep their order)."""
    if not isinstance(code, str) or not code:
        raise CouponNotFound("No such coupon.")
    member_id = Coupon.objects.filter(code=code).values_list("member_id", flat=True).first()
    if member_id is None:
        raise CouponNotFound(f"No coupon with code {code!r}.")
    lock_member(member_id=member_id)
    return Coupon.objects.select_for_update(of=("self",)).select_related("member", "template").get(code=code)


REASON_MESSAGES = {
    "already_used": "it was used for another order",
    "void": "it was voided",
    "expired": "it has expired",
    "not_yet_valid": "it is not valid yet",
    "below_minimum_spend": "the order is below its minimum spend",
    "other_member": "it belongs to another member",
    "other_storefront": "it was used by another storefront, which alone can release it",
}


def _not_usable(coupon: Coupon, reason: str) -> CouponNotUsable:
    return CouponNotUsable(
        f"Coupon {coupon.code} cannot be used: {REASON_MESSAGES[reason]}.", fields={"reason": [reason]}
    )


@transaction.atomic
def use_coupon(*, code: Any, order_id: Any, source: str, order_amount: Any = None, member: Any = None) -> Coupon:
    """Mark a coupon used for an order at checkout. The same (code, order_id) again returns the coupon
    unchanged; `member` (an external_id) and `order_amount` are checked when given."""
    order_id = inputs.text(order_id, "order_id", max_length=128)
    amount = inputs.money(order_amount, "order_amount")
    if member is not None and not isinstance(member, str):
        raise InvalidInput("member must be an external_id.", fields={"member": ["Must be a string."]})
    coupon = _locked_coupon(code)
    if coupon.status == Coupon.Status.USED and coupon.used_order_id == order_id and coupon.used_by == source:
        return coupon
    if member is not None and coupon.member.external_id != member:
        raise _not_usable(coupon, "other_member")
    now = timezone.now()
    reason = calculations.coupon_unusable_reason(
        status=coupon.status,
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        now=now,
        min_spend=coupon.min_spend,
        order_amount=amount,
    )
    if reason:
        raise _not_usable(coupon, reason)
    coupon.status, coupon.used_order_id, coupon.used_at, coupon.used_by = Coupon.Status.USED, order_id, now, source
    coupon.save(update_fields=["status", "used_order_id", "used_at", "used_by", "updated_at"])
    _published("coupon.used", coupon, order_id=order_id, source=source)
    return coupon


@transaction.atomic
def release_coupon(*, code: Any, order_id: Any, source: str) -> Coupon:
    """Undo a use when the order is cancelled: the coupon is active again (expired if its window has
    passed). Releasing a coupon that is not in use changes nothing. Only the storefront that used it
    may release it: any storefront may use a member's coupon, but one must not free a coupon another
    has taken payment against."""
    order_id = inputs.text(order_id, "order_id", max_length=128)
    coupon = _locked_coupon(code)
    if coupon.status != Coupon.Status.USED:
        return coupon
    if coupon.used_by != source:
        raise _not_usable(coupon, "other_storefront")
    if coupon.used_order_id != order_id:
        raise CouponNotReleasable(
            f"Coupon {coupon.code} was used for another order, not {order_id!r}.",
            fields={"order_id": ["Not this order."]},
        )
    expired = timezone.now() >= coupon.valid_until
    coupon.status = Coupon.Status.EXPIRED if expired else Coupon.Status.ACTIVE
    coupon.used_order_id, coupon.used_at, coupon.used_by = "", None, ""
    coupon.save(update_fields=["status", "used_order_id", "used_at", "used_by", "updated_at"])
    _published("coupon.released", coupon, order_id=order_id, source=source, status=coupon.status)
    return coupon


@transaction.atomic
def void_coupon(*, coupon: Coupon, actor=None) -> Coupon:
    """Staff withdraw an unused coupon (issued by mistake, abuse); a staff `actor` needs
    rewards.void_coupon."""
    require_permission(actor, "rewards.void_coupon", "You may not void coupons.")
    coupon = _locked_coupon(coupon.code)
    if coupon.status != Coupon.Status.ACTIVE:
        raise CouponNotUsable(f"Coupon {coupon.code} is {coupon.status}; only active coupons can be voided.")
    coupon.status = Coupon.Status.VOID
    coupon.save(update_fields=["status", "updated_at"])
    _published("coupon.voided", coupon, redemption_id=coupon.redemption_id)
    return coupon
