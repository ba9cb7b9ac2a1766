"""The mall in the admin: pages load, the cost guard warns, codes import from CSV, actions call services."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.services import adjust_points
from rewards.models import CodePool, PoolCode, Redemption, Reward
from rewards.services import hold_points, redeem
from tests.helpers import assert_ledger_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, program):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(admin)
    client.defaults["HTTP_HOST"] = "localhost"
    return client


@pytest.fixture
def rich_member(member, user):
    adjust_points(member=member, amount=10_000, reason="test setup", actor=user)
    return member


@pytest.mark.parametrize(
    "model",
    [
        "reward",
        "coupontemplate",
        "codepool",
        "poolcode",
        "coupon",
        "redemption",
        "benefit",
        "benefitgrant",
        "pointshold",
    ],
)
def test_every_rewards_page_loads(staff_client, model, rich_member, make_reward):
    redeem(source="shop", member=rich_member.external_id, reward=make_reward().code, idempotency_key="k")
    assert staff_client.get(reverse(f"admin:rewards_{model}_changelist")).status_code == 200
    assert staff_client.get(reverse(f"admin:rewards_{model}_changelist") + "?q=x").status_code == 200


def test_the_cost_guard_warns_in_the_list_and_on_save(staff_client, make_reward, make_template):
    cheap = make_reward(code="cheap", points_cost=1000, cash_value=Decimal("10"))
    make_reward(code="generous", points_cost=100, cash_value=Decimal("5"))
    page = staff_client.get(reverse("admin:rewards_reward_changelist")).content.decode()
    assert page.count("⚠") == 1 and "⚠ 0.0500" in page
    form = staff_client.get(reverse("admin:rewards_reward_change", args=[cheap.pk])).content.decode()
    assert "0.0100 per point, target 0.0100: within the budget" in form

    response = staff_client.post(
        reverse("admin:rewards_reward_add"),
        {
            "code": "lavish",
            "name": "Lavish",
            "kind": "coupon",
            "points_cost": 10,
            "cash_value": "20",
            "limit_period": "ever",
            "sort_order": 0,
            "coupon_template": make_template().pk,
            "is_active": "on",
        },
        follow=True,
    )
    assert Reward.objects.filter(code="lavish").exists()
    assert any("more than the target of 0.0100 per point" in str(m) for m in response.context["messages"])


def test_codes_import_from_csv_skipping_the_header_and_duplicates(staff_client, make_pool):
    pool = make_pool()
    url = reverse("admin:rewards_codepool_import", args=[pool.pk])
    assert staff_client.get(url).status_code == 200
    upload = SimpleUploadedFile("codes.csv", b"code\nAAA-1\nAAA-2\n\nAAA-1\n", content_type="text/csv")

    response = staff_client.post(url, {"file": upload}, follow=True)

    assert sorted(PoolCode.objects.filter(pool=pool).values_list("code", flat=True)) == ["AAA-1", "AAA-2"]
    assert any("Imported 2 codes" in str(m) and "1 duplicates" in str(m) for m in response.context["messages"])
    again = staff_client.post(url, {"file": SimpleUploadedFile("c.csv", b"AAA-2\nAAA-3\n")}, follow=True)
    assert any("Imported 1 codes" in str(m) for m in again.context["messages"])
    bad = staff_client.post(url, {"file": SimpleUploadedFile("c.csv", b"\xff\xfe")})
    assert "UTF-8" in bad.content.decode()
    empty = staff_client.post(url, {"file": SimpleUploadedFile("c.csv", b"code\n")})
    assert "no codes" in empty.content.decode()
    page = staff_client.get(reverse("admin:rewards_codepool_changelist")).content.decode()
    assert "Import codes" in page and CodePool.objects.count() == 1


def test_fulfilment_actions_move_goods_and_cancel_refunds(staff_client, rich_member, make_reward):
    goods = make_reward(kind="goods", coupon_template=None, stock=3)
    ids = [
        redeem(
            source="shop",
            member=rich_member.external_id,
            reward=goods.code,
            idempotency_key=k,
            shipping_address="Shanghai",
        ).redemption.pk
        for k in ("a", "b")
    ]
    url = reverse("admin:rewards_redemption_changelist")

    asked = staff_client.post(url, {"action": "mark_shipped", "_selected_action": [ids[0]]})
    assert "id_tracking_number" in asked.content.decode()  # the carrier and number are asked for first
    staff_client.post(
        url,
        {
            "action": "mark_shipped",
            "_selected_action": [ids[0]],
            "post": "yes",
            "carrier": "SF Express",
            "tracking_number": "SF1234567890",
        },
    )
    shipped = Redemption.objects.get(pk=ids[0])
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == ("shipped", "SF Express", "SF1234567890")
    page = staff_client.get(reverse("admin:rewards_redemption_change", args=[ids[0]])).content.decode()
    assert "SF1234567890" in page and 'value="mark_delivered"' in page  # the next step is a button on the page
    staff_client.post(url, {"action": "mark_delivered", "_selected_action": [ids[0]]})
    confirmation = staff_client.post(url, {"action": "cancel", "_selected_action": ids})
    assert "Yes, cancel them" in confirmation.content.decode()
    response = staff_client.post(
        url, {"action": "cancel", "_selected_action": ids, "post": "yes", "reason": "out of stock"}, follow=True
    )

    statuses = dict(Redemption.objects.values_list("pk", "status"))
    assert statuses == {ids[0]: "delivered", ids[1]: "cancelled"}
    messages = [str(m) for m in response.context["messages"]]
    assert any("cannot be cancelled" in m for m in messages) and "1 redemption(s) cancelled." in messages
    assert Redemption.objects.get(pk=ids[1]).note == "out of stock"
    assert_ledger_consistent(rich_member)


def test_coupon_void_and_hold_release_actions(staff_client, rich_member, make_reward):
    coupon = redeem(source="shop", member=rich_member.external_id, reward=make_reward().code, idempotency_key="c")
    coupon = coupon.redemption.coupons.get()
    staff_client.post(
        reverse("admin:rewards_coupon_changelist"), {"action": "void", "_selected_action": [coupon.pk], "post": "yes"}
    )
    coupon.refresh_from_db()
    assert coupon.status == "void"

    held = hold_points(source="shop", member=rich_member.external_id, amount=100, order_id="o", idempotency_key="h")
    staff_client.post(
        reverse("admin:rewards_pointshold_changelist"),
        {"action": "release", "_selected_action": [held.hold.pk], "post": "yes"},
    )
    held.hold.refresh_from_db()
    assert held.hold.status == "released"
    assert_ledger_consistent(rich_member)


def test_ledger_like_tables_are_read_only(staff_client):
    for model in ("redemption", "coupon", "benefitgrant", "pointshold", "poolcode"):
        assert staff_client.get(reverse(f"admin:rewards_{model}_add")).status_code == 403


def test_saving_a_reward_keeps_redemptions_made_while_the_form_was_open(rf, make_reward):
    from django.contrib import admin as django_admin

    from rewards.admin import RewardAdmin

    reward = make_reward()
    reward_admin = RewardAdmin(Reward, django_admin.site)
    request = rf.post("/")
    request.user = get_user_model().objects.create_superuser("editor", "editor@example.com", "pw")
    request._messages = type("Messages", (), {"add": lambda *args, **kwargs: None})()
    loaded = Reward.objects.get(pk=reward.pk)  # what the form was built from
    Reward.objects.filter(pk=reward.pk).update(redeemed_quantity=7)  # a redemption meanwhile
    loaded.name = "Renamed"
    form = type("Form", (), {"changed_data": ["name"]})()

    reward_admin.save_model(request, loaded, form, change=True)

    saved = Reward.objects.get(pk=reward.pk)
    assert (saved.name, saved.redeemed_quantity) == ("Renamed", 7)
