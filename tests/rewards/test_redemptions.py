"""Redeeming rewards: every kind, every refusal, idempotency, cancelling and fulfilment."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import IdempotencyConflict, InsufficientPoints
from loyalty.models import PointsEntry
from members.errors import InvalidInput, MemberFrozen, MemberNotFound
from members.services import freeze_member
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
from rewards.services import cancel_redemption, move_fulfilment, redeem, use_coupon
from tests.helpers import assert_ledger_consistent, ledger_counts

from .factories import fill_pool

pytestmark = pytest.mark.django_db

_keys = iter(range(1, 10**6))


def redeem_as(member, reward, quantity=1, key=None, **fields):
    return redeem(
        source="shop",
        member=member.external_id,
        reward=reward.code,
        quantity=quantity,
        idempotency_key=key or f"key-{next(_keys)}",
        **fields,
    )


def test_a_coupon_reward_spends_points_and_issues_coupons(member, give_points, make_reward):
    give_points(member, 1000)
    reward = make_reward(points_cost=300)

    outcome = redeem_as(member, reward, quantity=2)

    redemption = outcome.redemption
    assert outcome.created
    assert (redemption.status, redemption.points_spent, redemption.balance_after) == ("completed", 600, 400)
    coupons = list(redemption.coupons.all())
    assert len(coupons) == 2 and {c.status for c in coupons} == {"active"}
    assert all(c.value == reward.coupon_template.value and c.member_id == member.pk for c in coupons)
    spend = PointsEntry.objects.get(pk=redemption.spend_id)
    assert (spend.kind, spend.amount, spend.source) == ("spend", -600, "shop")
    member.refresh_from_db()
    assert member.points_available == 400
    reward.refresh_from_db()
    assert reward.redeemed_quantity == 2
    assert_ledger_consistent(member)


def test_a_cash_voucher_is_an_amount_off_coupon_worth_the_cash_value(member, give_points, make_reward, make_template):
    give_points(member, 500)
    template = make_template(kind="free_shipping", value=Decimal("0"), min_spend=Decimal("0"))
    reward = make_reward(kind="points_to_cash", points_cost=500, cash_value=Decimal("5"), coupon_template=template)

    coupon = redeem_as(member, reward).redemption.coupons.get()

    assert (coupon.kind, coupon.value) == ("amount_off", Decimal("5.00"))


def test_a_code_reward_hands_out_pool_codes_and_runs_out_with_the_pool(member, give_points, make_reward, make_pool):
    give_points(member, 1000)
    pool = make_pool()
    fill_pool(pool, 3)
    reward = make_reward(kind="code", coupon_template=None, code_pool=pool)

    redemption = redeem_as(member, reward, quantity=2).redemption

    codes = list(redemption.codes.values_list("code", "status", "member_id"))
    assert [(status, owner) for _, status, owner in codes] == [("issued", member.pk)] * 2
    with pytest.raises(OutOfStock):
        redeem_as(member, reward, quantity=2)
    member.refresh_from_db()
    assert member.points_available == 800
    assert_ledger_consistent(member)


def test_goods_wait_for_fulfilment_and_need_an_address(member, give_points, make_reward):
    give_points(member, 1000)
    reward = make_reward(kind="goods", coupon_template=None, stock=5)
    with pytest.raises(InvalidInput) as refused:
        redeem_as(member, reward)
    assert "shipping_address" in refused.value.fields

    redemption = redeem_as(member, reward, shipping_address="1 Nanjing Road, Shanghai").redemption

    assert redemption.status == "pending"
    assert move_fulfilment(redemption_id=redemption.pk, status="shipped").status == "shipped"
    with pytest.raises(RedemptionNotCancellable):
        cancel_redemption(redemption_id=redemption.pk)
    assert move_fulfilment(redemption_id=redemption.pk, status="delivered").status == "delivered"
    with pytest.raises(InvalidFulfilment):
        move_fulfilment(redemption_id=redemption.pk, status="shipped")
    with pytest.raises(InvalidFulfilment):
        move_fulfilment(redemption_id=redemption.pk, status="cancelled")


def test_digital_rewards_have_no_fulfilment(member, give_points, make_reward):
    give_points(member, 100)
    redemption = redeem_as(member, make_reward()).redemption
    with pytest.raises(InvalidFulfilment):
        move_fulfilment(redemption_id=redemption.pk, status="shipped")


def test_a_replay_returns_the_first_redemption_and_a_changed_body_conflicts(member, give_points, make_reward):
    give_points(member, 1000)
    reward = make_reward()
    first = redeem_as(member, reward, key="same")
    counts = ledger_counts()

    again = redeem_as(member, reward, key="same")

    assert (again.created, again.redemption.pk) == (False, first.redemption.pk)
    assert ledger_counts() == counts
    with pytest.raises(IdempotencyConflict):
        redeem_as(member, reward, quantity=2, key="same")
    other = redeem(source="pos", member=member.external_id, reward=reward.code, idempotency_key="same")
    assert other.created, "keys are scoped per storefront"


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda r, t: setattr(r, "is_active", False), RewardUnavailable),
        (lambda r, t: setattr(r, "visible_from", timezone.now() + timedelta(days=1)), RewardUnavailable),
        (lambda r, t: setattr(r, "visible_until", timezone.now() - timedelta(seconds=1)), RewardUnavailable),
        (lambda r, t: setattr(r, "min_tier", t["gold"]), TierRequired),
        (lambda r, t: setattr(r, "stock", 0), OutOfStock),
        (lambda r, t: setattr(r, "points_cost", 1001), InsufficientPoints),
    ],
)
def test_refusals_write_nothing(member, give_points, make_reward, tiers, setup, error):
    give_points(member, 1000)
    reward = make_reward()
    setup(reward, tiers)
    reward.save()
    counts = ledger_counts()

    with pytest.raises(error):
        redeem_as(member, reward)

    assert ledger_counts() == counts
    assert not Redemption.objects.exists() and not Coupon.objects.exists()
    reward.refresh_from_db()
    assert reward.redeemed_quantity == 0


def test_a_member_at_the_minimum_tier_may_redeem(member, give_points, give_growth, make_reward, tiers):
    give_points(member, 1000)
    give_growth(member, 6000)
    assert redeem_as(member, make_reward(min_tier=tiers["gold"])).created


def test_frozen_unknown_member_and_unknown_reward(member, give_points, make_reward):
    give_points(member, 1000)
    reward = make_reward()
    with pytest.raises(RewardNotFound):
        redeem(source="shop", member=member.external_id, reward="nope", idempotency_key="k")
    with pytest.raises(MemberNotFound):
        redeem(source="shop", member="ghost", reward=reward.code, idempotency_key="k")
    freeze_member(member=member)
    with pytest.raises(MemberFrozen):
        redeem_as(member, reward)


@pytest.mark.parametrize(
    "fields",
    [
        {"quantity": 0},
        {"quantity": 101},
        {"quantity": "2"},
        {"quantity": True},
        {"idempotency_key": ""},
        {"idempotency_key": "x" * 129},
        {"shipping_address": 5},
    ],
)
def test_invalid_input_is_a_validation_error(member, make_reward, fields):
    body = {"source": "shop", "member": member.external_id, "reward": make_reward().code, "idempotency_key": "k"}
    with pytest.raises(InvalidInput):
        redeem(**{**body, **fields})


def test_per_member_limit_counts_the_period_and_ignores_cancelled(member, give_points, make_reward):
    give_points(member, 1000)
    reward = make_reward(per_member_limit=2, limit_period="month")
    first = redeem_as(member, reward).redemption
    redeem_as(member, reward)
    with pytest.raises(LimitReached):
        redeem_as(member, reward)
    cancel_redemption(redemption_id=first.pk)
    assert redeem_as(member, reward).created
    # Last month's redemptions do not count this month.
    Redemption.objects.update(created_at=timezone.now() - timedelta(days=40))
    assert redeem_as(member, reward, quantity=2).created
    assert_ledger_consistent(member)


def test_stock_is_total_units_and_a_cancel_restores_it(member, give_points, make_reward):
    give_points(member, 1000)
    reward = make_reward(stock=2)
    first = redeem_as(member, reward, quantity=2).redemption
    with pytest.raises(OutOfStock):
        redeem_as(member, reward)

    cancelled = cancel_redemption(redemption_id=first.pk, reason="changed my mind")

    assert cancelled.status == "cancelled"
    assert set(first.coupons.values_list("status", flat=True)) == {"void"}
    reward.refresh_from_db()
    assert (reward.redeemed_quantity, reward.stock_left) == (0, 2)
    member.refresh_from_db()
    assert member.points_available == 1000
    assert cancel_redemption(redemption_id=first.pk).status == "cancelled", "cancelling again changes nothing"
    assert PointsEntry.objects.filter(kind="refund").count() == 1
    assert_ledger_consistent(member)


def test_cancel_refunds_to_the_original_lots_and_expires_what_expired_meanwhile(member, give_points, make_reward):
    soon = give_points(member, 60, expires_at=timezone.now() + timedelta(hours=1))
    later = give_points(member, 100, expires_at=timezone.now() + timedelta(days=300))
    redemption = redeem_as(member, make_reward(points_cost=150)).redemption
    PointsEntry.objects.filter(pk=soon.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    cancel_redemption(redemption_id=redemption.pk)

    refunds = {r.expires_at: r for r in PointsEntry.objects.filter(kind="refund")}
    expired_refund = refunds[PointsEntry.objects.get(pk=soon.pk).expires_at]
    assert (expired_refund.amount, expired_refund.remaining) == (60, 0)
    expiry = PointsEntry.objects.get(kind="expire", expired_lot=expired_refund)
    assert expiry.amount == -60 and "expiry" in expiry.reason
    assert refunds[later.expires_at].remaining == 90
    member.refresh_from_db()
    assert member.points_available == 100
    assert_ledger_consistent(member)


def test_a_used_coupon_blocks_the_cancel_and_partner_codes_are_voided(member, give_points, make_reward, make_pool):
    give_points(member, 1000)
    used = redeem_as(member, make_reward()).redemption
    use_coupon(code=used.coupons.get().code, order_id="o-1", source="shop")
    with pytest.raises(RedemptionNotCancellable):
        cancel_redemption(redemption_id=used.pk)

    pool = make_pool()
    fill_pool(pool, 1)
    with_code = redeem_as(member, make_reward(kind="code", coupon_template=None, code_pool=pool)).redemption
    cancel_redemption(redemption_id=with_code.pk)
    assert PoolCode.objects.get().status == "void"
    with pytest.raises(RedemptionNotFound):
        cancel_redemption(redemption_id=999999)
    with pytest.raises(RedemptionNotFound):
        cancel_redemption(redemption_id=2**70)


def test_a_fixed_window_template_that_ended_makes_the_reward_unavailable(
    member, give_points, make_reward, make_template
):
    give_points(member, 1000)
    ended = make_template(valid_days=None, valid_until=timezone.now() - timedelta(days=1))
    with pytest.raises(RewardUnavailable):
        redeem_as(member, make_reward(coupon_template=ended))
    member.refresh_from_db()
    assert member.points_available == 1000


def test_reward_model_rules(make_reward):
    reward = make_reward(points_cost=1000, cash_value=Decimal("15"))
    assert reward.value_per_point == Decimal("0.0150")
    assert Reward(stock=None).stock_left is None
