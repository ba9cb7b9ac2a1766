"""Coupons at checkout (use, release, void) and points holds (hold, capture, release, expiry)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import IdempotencyConflict, InsufficientPoints
from loyalty.models import PointsEntry
from members.errors import InvalidInput, MemberFrozen
from members.services import freeze_member
from rewards.errors import (
    CouponNotFound,
    CouponNotReleasable,
    CouponNotUsable,
    HoldExpired,
    HoldNotActive,
    HoldNotFound,
)
from rewards.models import Coupon, PointsHold
from rewards.services import (
    capture_hold,
    hold_points,
    redeem,
    release_coupon,
    release_hold,
    use_coupon,
    void_coupon,
)
from tests.helpers import assert_ledger_consistent, ledger_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def coupon(member, give_points, make_reward):
    give_points(member, 100)
    reward = make_reward(points_cost=100)
    return redeem(
        source="shop", member=member.external_id, reward=reward.code, idempotency_key="c"
    ).redemption.coupons.get()


def reason_of(excinfo) -> str:
    return excinfo.value.fields["reason"][0]


def test_use_is_idempotent_per_order_and_refuses_a_second_order(coupon, member):
    used = use_coupon(code=coupon.code, order_id="o-1", source="shop", order_amount="120.00", member=member.external_id)
    assert (used.status, used.used_order_id, used.used_by) == ("used", "o-1", "shop")
    assert use_coupon(code=coupon.code, order_id="o-1", source="shop").used_at == used.used_at
    with pytest.raises(CouponNotUsable) as refused:
        use_coupon(code=coupon.code, order_id="o-2", source="shop")
    assert reason_of(refused) == "already_used"


@pytest.mark.parametrize(
    ("change", "fields", "reason"),
    [
        ({}, {"order_amount": "98.99"}, "below_minimum_spend"),
        ({}, {"member": "somebody-else"}, "other_member"),
        ({"status": "void"}, {}, "void"),
        (
            {"valid_from": timezone.now() - timedelta(days=2), "valid_until": timezone.now() - timedelta(seconds=1)},
            {},
            "expired",
        ),
        (
            {"valid_from": timezone.now() + timedelta(days=1), "valid_until": timezone.now() + timedelta(days=2)},
            {},
            "not_yet_valid",
        ),
    ],
)
def test_a_coupon_that_cannot_be_used_says_why(coupon, change, fields, reason):
    Coupon.objects.filter(pk=coupon.pk).update(**change)
    with pytest.raises(CouponNotUsable) as refused:
        use_coupon(code=coupon.code, order_id="o-1", source="shop", **fields)
    assert reason_of(refused) == reason
    assert Coupon.objects.get(pk=coupon.pk).used_order_id == ""


def test_release_undoes_the_use_for_that_order_only(coupon):
    use_coupon(code=coupon.code, order_id="o-1", source="shop")
    with pytest.raises(CouponNotReleasable):
        release_coupon(code=coupon.code, order_id="o-2", source="shop")
    released = release_coupon(code=coupon.code, order_id="o-1", source="shop")
    assert (released.status, released.used_order_id, released.used_at) == ("active", "", None)
    assert release_coupon(code=coupon.code, order_id="o-1", source="shop").status == "active", (
        "releasing again changes nothing"
    )


def test_a_coupon_released_after_its_window_is_expired(coupon):
    use_coupon(code=coupon.code, order_id="o-1", source="shop")
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_from=timezone.now() - timedelta(days=2), valid_until=timezone.now() - timedelta(seconds=1)
    )
    assert release_coupon(code=coupon.code, order_id="o-1", source="shop").status == "expired"


def test_unknown_coupons_and_bad_input(coupon):
    with pytest.raises(CouponNotFound):
        use_coupon(code="NOPE", order_id="o", source="shop")
    with pytest.raises(CouponNotFound):
        release_coupon(code="", order_id="o", source="shop")
    for fields in (
        {"order_id": ""},
        {"order_id": 5},
        {"order_id": "o", "order_amount": "-1"},
        {"order_id": "o", "order_amount": "1.001"},
        {"order_id": "o", "member": 7},
    ):
        with pytest.raises(InvalidInput):
            use_coupon(code=coupon.code, source="shop", **fields)


def test_void_only_active_coupons(coupon):
    assert void_coupon(coupon=coupon).status == "void"
    with pytest.raises(CouponNotUsable):
        void_coupon(coupon=coupon)


# --- holds ------------------------------------------------------------------------------------------


def hold(member, amount=300, key="h-1", order_id="o-1", source="shop"):
    return hold_points(source=source, member=member.external_id, amount=amount, order_id=order_id, idempotency_key=key)


def test_held_points_leave_available_and_the_audit_still_holds(member, give_points, configure_program):
    configure_program(hold_minutes=15)
    give_points(member, 1000)
    before = timezone.now()

    outcome = hold(member)

    held = outcome.hold
    assert outcome.created and (held.status, held.amount, held.balance_after) == ("held", 300, 700)
    assert before + timedelta(minutes=15) <= held.expires_at <= timezone.now() + timedelta(minutes=15)
    member.refresh_from_db()
    assert member.points_available == 700
    assert_ledger_consistent(member)


def test_a_hold_never_reserves_more_than_is_available(member, give_points):
    give_points(member, 500)
    hold(member, 400, key="a")
    counts = ledger_counts()
    with pytest.raises(InsufficientPoints):
        hold(member, 101, key="b")
    assert ledger_counts() == counts
    assert PointsHold.objects.count() == 1


def test_hold_replay_and_conflict(member, give_points):
    give_points(member, 1000)
    first = hold(member)
    again = hold(member)
    assert (again.created, again.hold.pk) == (False, first.hold.pk)
    with pytest.raises(IdempotencyConflict):
        hold(member, amount=301)
    freeze_member(member=member)
    with pytest.raises(MemberFrozen):
        hold(member, key="other")


def test_capture_keeps_the_spend_and_a_partial_capture_returns_the_rest(member, give_points):
    give_points(member, 1000)
    full = capture_hold(hold_id=hold(member, key="a").hold.pk)
    assert (full.status, full.captured_amount) == ("captured", 300)
    assert capture_hold(hold_id=full.pk).status == "captured", "capturing again changes nothing"
    with pytest.raises(IdempotencyConflict):
        capture_hold(hold_id=full.pk, amount=100)

    partial = capture_hold(hold_id=hold(member, key="b", order_id="o-2").hold.pk, amount=120)

    assert partial.captured_amount == 120
    member.refresh_from_db()
    assert member.points_available == 1000 - 300 - 120
    assert_ledger_consistent(member)


def test_release_returns_held_points_and_refunds_captured_ones(member, give_points):
    give_points(member, 1000)
    released = release_hold(hold_id=hold(member, key="a").hold.pk)
    assert (released.status, released.release_reason) == ("released", "released")
    assert release_hold(hold_id=released.pk).status == "released"
    with pytest.raises(HoldNotActive):
        capture_hold(hold_id=released.pk)

    captured = capture_hold(hold_id=hold(member, key="b").hold.pk, amount=200)
    refunded = release_hold(hold_id=captured.pk)

    assert refunded.release_reason == "refunded_after_capture"
    member.refresh_from_db()
    assert member.points_available == 1000
    assert_ledger_consistent(member)


def test_an_expired_hold_cannot_be_captured_and_is_released_before_the_next_spend(member, give_points):
    give_points(member, 500)
    expired = hold(member, 400, key="a").hold
    PointsHold.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(HoldExpired):
        capture_hold(hold_id=expired.pk)

    second = hold(member, 450, key="b").hold

    assert PointsHold.objects.get(pk=expired.pk).release_reason == "expired"
    assert second.balance_after == 50
    assert_ledger_consistent(member)


def test_unknown_holds_and_bad_amounts(member, give_points):
    give_points(member, 1000)
    held = hold(member).hold
    for hold_id in (999999, 0, -1, 2**70, "1", True):
        with pytest.raises(HoldNotFound):
            capture_hold(hold_id=hold_id)
    for amount in (0, 301, "5", 1.5):
        with pytest.raises(InvalidInput):
            capture_hold(hold_id=held.pk, amount=amount)
    for body in ({"amount": 0}, {"amount": "5"}, {"order_id": ""}, {"key": ""}):
        with pytest.raises(InvalidInput):
            hold(member, **body)


def test_a_hold_is_a_spend_with_allocations_and_a_release_refunds_its_lots(member, give_points):
    lot = give_points(member, 300, expires_at=timezone.now() + timedelta(days=10))
    held = hold(member, 300).hold
    spend = PointsEntry.objects.get(pk=held.spend_id)
    assert (spend.kind, spend.amount) == ("spend", -300)
    assert list(spend.allocations.values_list("lot_id", "amount")) == [(lot.pk, 300)]

    release_hold(hold_id=held.pk)

    refund = PointsEntry.objects.get(kind="refund")
    assert (refund.amount, refund.expires_at, refund.refunded_spend_id) == (300, lot.expires_at, spend.pk)
    assert refund.remaining == 300 and Decimal(refund.amount) == 300
