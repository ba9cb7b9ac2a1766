"""Real concurrency on PostgreSQL: threads with their own connections racing for stock and points."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from loyalty.errors import InsufficientPoints
from loyalty.services import adjust_points
from members.models import Member
from rewards.errors import CouponNotUsable, OutOfStock
from rewards.models import Coupon, PointsHold, Redemption
from rewards.services import hold_points, redeem, use_coupon
from tests.factories import UserFactory
from tests.helpers import assert_ledger_consistent
from tests.loyalty.test_concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL (row locks and concurrent writers); set DATABASE_URL",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
]


def members_with_points(make_member, count: int, points: int) -> list[Member]:
    staff = UserFactory()
    members = [make_member() for _ in range(count)]
    for member in members:
        adjust_points(member=member, amount=points, reason="test setup", actor=staff)
    return members


def outcome_kinds(results) -> Counter:
    return Counter(kind if kind == "ok" else type(value).__name__ for kind, value in results)


def test_50_parallel_redemptions_of_a_stock_of_10_sell_exactly_10(make_member, make_reward):
    reward = make_reward(stock=10, points_cost=100)
    members = members_with_points(make_member, 50, 1000)

    def buy(i):
        return redeem(source="shop", member=members[i].external_id, reward=reward.code, idempotency_key=f"k-{i}")

    results = race(50, buy)

    assert outcome_kinds(results) == {"ok": 10, "OutOfStock": 40}
    reward.refresh_from_db()
    assert (reward.redeemed_quantity, reward.stock_left) == (10, 0)
    assert Redemption.objects.count() == 10 and Coupon.objects.count() == 10
    assert all(isinstance(value, OutOfStock) for kind, value in results if kind == "error")
    for member in members:
        assert_ledger_consistent(member)


def test_one_member_with_points_for_3_sending_20_requests_gets_exactly_3(member, make_reward):
    reward = make_reward(points_cost=300)
    adjust_points(member=member, amount=1000, reason="test setup", actor=UserFactory())

    def buy(i):
        return redeem(source="shop", member=member.external_id, reward=reward.code, idempotency_key=f"k-{i}")

    results = race(20, buy)

    assert outcome_kinds(results) == {"ok": 3, "InsufficientPoints": 17}
    assert all(isinstance(value, InsufficientPoints) for kind, value in results if kind == "error")
    member.refresh_from_db()
    assert member.points_available == 100
    assert sorted(Redemption.objects.values_list("balance_after", flat=True)) == [100, 400, 700]
    assert_ledger_consistent(member)


def test_parallel_holds_and_redemptions_never_overspend_one_balance(member, make_reward):
    reward = make_reward(points_cost=150)
    adjust_points(member=member, amount=1000, reason="test setup", actor=UserFactory())

    def spend(i):
        if i % 2:
            return hold_points(
                source="shop", member=member.external_id, amount=150, order_id=f"o-{i}", idempotency_key=f"h-{i}"
            )
        return redeem(source="shop", member=member.external_id, reward=reward.code, idempotency_key=f"r-{i}")

    results = race(20, spend)

    assert outcome_kinds(results) == {"ok": 6, "InsufficientPoints": 14}
    assert PointsHold.objects.count() + Redemption.objects.count() == 6
    member.refresh_from_db()
    assert member.points_available == 100
    assert_ledger_consistent(member)


def test_the_same_redemption_sent_20_times_at_once_is_made_once(member, make_reward):
    reward = make_reward(points_cost=100, stock=5)
    adjust_points(member=member, amount=1000, reason="test setup", actor=UserFactory())

    def buy(_):
        outcome = redeem(source="shop", member=member.external_id, reward=reward.code, idempotency_key="same")
        return outcome.created, outcome.redemption.pk

    outcomes = [value for _, value in race(20, buy)]

    assert sorted(created for created, _ in outcomes) == [False] * 19 + [True]
    assert len({pk for _, pk in outcomes}) == 1
    member.refresh_from_db()
    assert member.points_available == 900
    assert_ledger_consistent(member)


def test_one_coupon_used_by_10_orders_at_once_is_used_once(member, make_reward):
    adjust_points(member=member, amount=100, reason="test setup", actor=UserFactory())
    reward = make_reward(points_cost=100)
    code = redeem(source="shop", member=member.external_id, reward=reward.code, idempotency_key="c")
    code = code.redemption.coupons.get().code

    results = race(10, lambda i: use_coupon(code=code, order_id=f"o-{i}", source="shop").used_order_id)

    assert outcome_kinds(results) == {"ok": 1, "CouponNotUsable": 9}
    assert all(isinstance(value, CouponNotUsable) for kind, value in results if kind == "error")
