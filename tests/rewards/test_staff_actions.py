"""The mall's staff actions (cancel, fulfil, void, release) need their own permissions: the admin
offers them only to roles that hold them, refuses direct POSTs from the others, asks for confirmation
before cancelling or voiding, and the services refuse a staff member without the permission."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.services import adjust_points
from members.errors import NotPermitted
from rewards.models import Coupon, PointsHold, Redemption
from rewards.services import cancel_redemption, hold_points, move_fulfilment, redeem, release_hold, void_coupon

pytestmark = pytest.mark.django_db

ROLES = ("Operations", "Marketing", "Finance", "Support")


@pytest.fixture
def stocked(member, user, make_reward):
    """A member with points, a coupon redemption, a goods redemption and a held order."""
    adjust_points(member=member, amount=10_000, reason="test setup", actor=user)
    coupon_reward = make_reward(code="voucher")
    goods = make_reward(code="mug", kind="goods", coupon_template=None)
    return {
        "coupon": redeem(source="web", member=member.external_id, reward=coupon_reward.code, idempotency_key="r1"),
        "other_coupon": redeem(
            source="web", member=member.external_id, reward=coupon_reward.code, idempotency_key="r3"
        ),
        "goods": redeem(
            source="web", member=member.external_id, reward=goods.code, idempotency_key="r2", shipping_address="x"
        ).redemption,
        "hold": hold_points(source="web", member=member.external_id, amount=500, order_id="o-1", idempotency_key="h1"),
    }


def _act(client, admin_name: str, action: str, pk: int, **extra):
    return client.post(reverse(f"admin:{admin_name}_changelist"), {"action": action, "_selected_action": [pk], **extra})


def _offered(client, admin_name: str) -> set[str]:
    page = client.get(reverse(f"admin:{admin_name}_changelist"))
    if page.status_code != 200:
        return set()
    return {name for name, _ in page.context["cl"].model_admin.get_action_choices(page.wsgi_request)}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_offered_and_allowed_exactly_the_mall_actions_it_holds(client, role_user, role, stocked):
    """Operations fulfils, cancels, voids and releases; every other role is neither offered the
    actions nor able to run them by posting the action directly."""
    client.force_login(role_user(role))
    client.defaults["HTTP_HOST"] = "localhost"
    allowed = role == "Operations"
    coupon_redemption = stocked["coupon"].redemption
    goods, hold = stocked["goods"], stocked["hold"].hold
    coupon = Coupon.objects.get(redemption=stocked["other_coupon"].redemption)

    offered = (
        _offered(client, "rewards_redemption")
        | _offered(client, "rewards_coupon")
        | _offered(client, "rewards_pointshold")
    )
    expected = {"mark_shipped", "mark_delivered", "cancel", "void", "release"}
    assert (expected <= offered) if allowed else not (expected & offered)

    _act(client, "rewards_redemption", "mark_shipped", goods.pk, post="yes", carrier="SF Express")
    _act(client, "rewards_redemption", "cancel", coupon_redemption.pk, post="yes", reason="customer asked")
    _act(client, "rewards_coupon", "void", coupon.pk, post="yes")
    _act(client, "rewards_pointshold", "release", hold.pk, post="yes")

    goods.refresh_from_db()
    coupon_redemption.refresh_from_db()
    hold.refresh_from_db()
    coupon.refresh_from_db()
    assert coupon.status == ("void" if allowed else "active")
    assert goods.status == ("shipped" if allowed else "pending")
    assert coupon_redemption.status == ("cancelled" if allowed else "completed")
    assert hold.status == ("released" if allowed else "held")


def test_cancelling_asks_for_confirmation_and_a_reason_first(client, role_user, stocked, member):
    client.force_login(role_user("Operations"))
    client.defaults["HTTP_HOST"] = "localhost"
    redemption = stocked["coupon"].redemption
    member.refresh_from_db()
    before = member.points_available

    page = _act(client, "rewards_redemption", "cancel", redemption.pk)
    assert page.status_code == 200 and "Yes, cancel them" in page.content.decode()
    without_reason = _act(client, "rewards_redemption", "cancel", redemption.pk, post="yes")
    assert without_reason.status_code == 200 and without_reason.context["form"].errors
    redemption.refresh_from_db()
    assert redemption.status == "completed", "nothing happens before the confirmation with a reason"

    _act(client, "rewards_redemption", "cancel", redemption.pk, post="yes", reason="wrong size")
    redemption.refresh_from_db()
    member.refresh_from_db()
    assert (redemption.status, redemption.note) == ("cancelled", "wrong size")
    assert member.points_available == before + redemption.points_spent


def test_voiding_asks_for_confirmation_first(client, role_user, stocked):
    client.force_login(role_user("Operations"))
    client.defaults["HTTP_HOST"] = "localhost"
    coupon = Coupon.objects.get(redemption=stocked["coupon"].redemption)

    page = _act(client, "rewards_coupon", "void", coupon.pk)
    assert page.status_code == 200 and "Yes, void them" in page.content.decode()
    coupon.refresh_from_db()
    assert coupon.status == "active"
    _act(client, "rewards_coupon", "void", coupon.pk, post="yes")
    coupon.refresh_from_db()
    assert coupon.status == "void"


@pytest.mark.parametrize("role", ["Support", "Finance", "Marketing"])
def test_the_services_refuse_a_staff_member_without_the_permission(role_user, role, stocked):
    clerk = role_user(role)
    redemption, goods, hold = stocked["coupon"].redemption, stocked["goods"], stocked["hold"].hold
    coupon = Coupon.objects.get(redemption=redemption)
    with pytest.raises(NotPermitted):
        cancel_redemption(redemption_id=redemption.pk, reason="x", actor=clerk)
    with pytest.raises(NotPermitted):
        move_fulfilment(redemption_id=goods.pk, status="shipped", actor=clerk)
    with pytest.raises(NotPermitted):
        void_coupon(coupon=coupon, actor=clerk)
    with pytest.raises(NotPermitted):
        release_hold(hold_id=hold.pk, actor=clerk)
    assert Redemption.objects.get(pk=redemption.pk).status == "completed"
    assert PointsHold.objects.get(pk=hold.pk).status == "held"


def test_the_services_let_operations_act(role_user, stocked):
    operator = role_user("Operations")
    redemption, goods, hold = stocked["coupon"].redemption, stocked["goods"], stocked["hold"].hold
    assert move_fulfilment(redemption_id=goods.pk, status="shipped", actor=operator).status == "shipped"
    assert cancel_redemption(redemption_id=redemption.pk, reason="x", actor=operator).status == "cancelled"
    assert release_hold(hold_id=hold.pk, actor=operator).status == "released"
