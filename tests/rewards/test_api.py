"""Contract tests of the rewards API: every endpoint, status and error code, in the one error shape."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.services import adjust_points, enrol_member
from loyalty.services.jobs import run_job_now
from members.services import freeze_member
from rewards.models import Coupon, PointsHold
from rewards.services import move_fulfilment
from tests.factories import UserFactory
from tests.helpers import assert_ledger_consistent, local
from tests.loyalty.api.conftest import client_for, error_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(program):
    return client_for("web shop")


@pytest.fixture
def alice(program):
    member = enrol_member(external_id="alice", name="Alice")
    adjust_points(member=member, amount=1000, reason="test setup", actor=UserFactory())
    return member


@pytest.fixture
def catalog(make_reward, make_template, tiers):
    template = make_template(code="ten-off", value=Decimal("10"), min_spend=Decimal("99"))
    return {
        "coupon": make_reward(
            code="coupon-10", points_cost=300, coupon_template=template, category="coupons", sort_order=2
        ),
        "goods": make_reward(
            code="mug", kind="goods", coupon_template=None, points_cost=2000, stock=1, category="goods", sort_order=1
        ),
        "gold": make_reward(
            code="gold-only", points_cost=100, min_tier=tiers["gold"], coupon_template=template, sort_order=3
        ),
    }


def redeem(api, reward="coupon-10", key="k-1", **body):
    return api.post(
        "/api/v1/redemptions/", {"member": "alice", "reward": reward, "idempotency_key": key, **body}, format="json"
    )


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert error_code(response) == code


# --- catalog ----------------------------------------------------------------------------------------


def test_the_catalog_lists_what_is_on_offer_with_filters_and_ordering(api, catalog):
    catalog["coupon"].__class__.objects.filter(code="gold-only").update(is_active=False)
    body = api.get("/api/v1/rewards/").json()
    assert [r["code"] for r in body["results"]] == ["mug", "coupon-10"]
    first = body["results"][1]
    assert first["points_cost"] == 300 and first["cash_value"] == "1.00" and first["stock_left"] is None
    assert first["affordable"] is None and first["eligible"] is None
    assert [r["code"] for r in api.get("/api/v1/rewards/?kind=goods").json()["results"]] == ["mug"]
    assert [r["code"] for r in api.get("/api/v1/rewards/?category=coupons").json()["results"]] == ["coupon-10"]
    ordered = api.get("/api/v1/rewards/?ordering=-points_cost").json()["results"]
    assert [r["code"] for r in ordered] == ["mug", "coupon-10"]


def test_the_catalog_for_a_member_marks_what_they_can_afford_and_redeem(api, alice, catalog):
    rows = {r["code"]: r for r in api.get("/api/v1/rewards/?member=alice").json()["results"]}
    assert (rows["coupon-10"]["affordable"], rows["coupon-10"]["eligible"], rows["coupon-10"]["reason"]) == (
        True,
        True,
        None,
    )
    assert (rows["mug"]["affordable"], rows["mug"]["eligible"]) == (False, True)
    assert (rows["gold-only"]["eligible"], rows["gold-only"]["reason"]) == (False, "tier_required")
    assert_error(api.get("/api/v1/rewards/?member=ghost"), 404, "member_not_found")


@pytest.mark.parametrize("query", ["kind=lottery", "kind=", "ordering=price", "page_size=abc", "member="])
def test_bad_catalog_queries_are_validation_errors(api, catalog, query):
    assert_error(api.get(f"/api/v1/rewards/?{query}"), 400, "validation_error")


def test_one_reward_and_auth(api, catalog):
    assert api.get("/api/v1/rewards/mug/").json()["kind"] == "goods"
    assert_error(api.get("/api/v1/rewards/nope/"), 404, "reward_not_found")
    assert_error(APIClient().get("/api/v1/rewards/", HTTP_HOST="localhost"), 401, "not_authenticated")


# --- redemptions ------------------------------------------------------------------------------------


def test_redeem_then_replay_then_conflict(api, alice, catalog):
    created = redeem(api, quantity=2)
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["points_spent"], body["balance_after"], body["quantity"]) == ("completed", 600, 400, 2)
    assert len(body["coupons"]) == 2 and body["codes"] == []
    assert body["coupons"][0]["value"] == "10.00" and body["coupons"][0]["status"] == "active"

    replay = redeem(api, quantity=2)
    assert (replay.status_code, replay.json()) == (200, body)
    assert_error(redeem(api, quantity=1), 409, "idempotency_conflict")
    assert api.get(f"/api/v1/redemptions/{body['id']}/").json() == body
    assert_ledger_consistent(alice)


@pytest.mark.parametrize(
    ("setup", "body", "status", "code"),
    [
        (None, {"reward": "mug", "shipping_address": "Shanghai", "key": "x"}, 422, "insufficient_points"),
        (None, {"reward": "gold-only"}, 422, "tier_required"),
        ("limit", {}, 422, "limit_reached"),
        ("stock", {}, 422, "out_of_stock"),
        ("inactive", {}, 422, "reward_unavailable"),
        ("frozen", {}, 422, "member_frozen"),
        (None, {"reward": "nope"}, 404, "reward_not_found"),
        (None, {"member": "ghost"}, 404, "member_not_found"),
        (None, {"quantity": 0}, 400, "validation_error"),
        (None, {"quantity": "1"}, 400, "validation_error"),
        (None, {"reward": "mug"}, 400, "validation_error"),
        (None, {"idempotency_key": None}, 400, "validation_error"),
        (None, {"colour": "red"}, 400, "validation_error"),
    ],
)
def test_redemption_refusals(api, alice, catalog, setup, body, status, code):
    coupon = catalog["coupon"]
    if setup == "limit":
        coupon.per_member_limit = 0
    elif setup == "stock":
        coupon.stock = 0
    elif setup == "inactive":
        coupon.is_active = False
    elif setup == "frozen":
        freeze_member(member=alice)
    coupon.save()
    body = dict(body)
    key = body.pop("key", "k-1")
    assert_error(redeem(api, key=key, **body), status, code)


def test_non_object_and_non_json_bodies(api, alice):
    assert_error(api.post("/api/v1/redemptions/", [1, 2], format="json"), 400, "validation_error")
    assert_error(api.post("/api/v1/redemptions/", "x", content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(api.post("/api/v1/redemptions/", "{", content_type="application/json"), 400, "validation_error")


def test_cancel_and_fulfilment_states(api, alice, catalog):
    made = redeem(api).json()
    cancelled = api.post(f"/api/v1/redemptions/{made['id']}/cancel/", {"reason": "changed my mind"}, format="json")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["coupons"][0]["status"] == "void"
    assert api.post(f"/api/v1/redemptions/{made['id']}/cancel/", {}, format="json").status_code == 200
    assert api.get("/api/v1/members/alice/").json()["points"]["available"] == 1000

    adjust_points(member=alice, amount=2000, reason="more", actor=UserFactory())
    goods = redeem(api, reward="mug", key="k-2", shipping_address="1 Nanjing Road").json()
    assert goods["status"] == "pending"
    assert (goods["carrier"], goods["tracking_number"], goods["shipped_at"]) == ("", "", None)
    move_fulfilment(redemption_id=goods["id"], status="shipped", carrier="SF Express", tracking_number="SF123")
    shipped = api.get(f"/api/v1/redemptions/{goods['id']}/").json()
    assert (shipped["status"], shipped["carrier"], shipped["tracking_number"]) == ("shipped", "SF Express", "SF123")
    assert shipped["shipped_at"] is not None and shipped["delivered_at"] is None
    assert_error(
        api.post(f"/api/v1/redemptions/{goods['id']}/cancel/", {}, format="json"), 422, "redemption_not_cancellable"
    )
    assert_error(api.post("/api/v1/redemptions/999999/cancel/", {}, format="json"), 404, "redemption_not_found")
    assert_error(api.get("/api/v1/redemptions/999999/"), 404, "redemption_not_found")
    assert_error(api.get(f"/api/v1/redemptions/{2**70}/"), 404, "redemption_not_found")
    assert_error(
        api.post(f"/api/v1/redemptions/{made['id']}/cancel/", {"reason": 5}, format="json"), 400, "validation_error"
    )
    assert_ledger_consistent(alice)


def test_member_redemptions_newest_first_with_a_status_filter(api, alice, catalog):
    first = redeem(api, key="a").json()
    second = redeem(api, key="b").json()
    api.post(f"/api/v1/redemptions/{first['id']}/cancel/", {}, format="json")
    listed = api.get("/api/v1/members/alice/redemptions/").json()
    assert [r["id"] for r in listed["results"]] == [second["id"], first["id"]]
    cancelled = api.get("/api/v1/members/alice/redemptions/?status=cancelled").json()["results"]
    assert [r["id"] for r in cancelled] == [first["id"]]
    assert_error(api.get("/api/v1/members/ghost/redemptions/"), 404, "member_not_found")
    assert_error(api.get("/api/v1/members/alice/redemptions/?status=lost"), 400, "validation_error")


# --- coupons ----------------------------------------------------------------------------------------


def test_coupons_list_use_replay_refuse_and_release(api, alice, catalog):
    code = redeem(api).json()["coupons"][0]["code"]
    listed = api.get("/api/v1/members/alice/coupons/?status=active").json()
    assert [c["code"] for c in listed["results"]] == [code]

    used = api.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o-1", "order_amount": "120.00"}, format="json")
    assert used.status_code == 200 and used.json()["status"] == "used" and used.json()["used_order_id"] == "o-1"
    replay = api.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o-1", "order_amount": "120.00"}, format="json")
    assert (replay.status_code, replay.json()) == (200, used.json())
    refused = api.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o-2"}, format="json")
    assert_error(refused, 422, "coupon_not_usable")
    assert refused.json()["error"]["fields"] == {"reason": ["already_used"]}
    assert api.get("/api/v1/members/alice/coupons/?status=used").json()["count"] == 1

    assert_error(
        api.post(f"/api/v1/coupons/{code}/release/", {"order_id": "o-2"}, format="json"), 422, "coupon_not_releasable"
    )
    released = api.post(f"/api/v1/coupons/{code}/release/", {"order_id": "o-1"}, format="json")
    assert released.status_code == 200 and released.json()["status"] == "active"
    assert api.get(f"/api/v1/coupons/{code}/").json()["status"] == "active"


def test_coupon_errors(api, alice, catalog):
    code = redeem(api).json()["coupons"][0]["code"]
    below = api.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o", "order_amount": "50"}, format="json")
    assert_error(below, 422, "coupon_not_usable")
    assert below.json()["error"]["fields"] == {"reason": ["below_minimum_spend"]}
    other = api.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o", "member": "bob"}, format="json")
    assert other.json()["error"]["fields"] == {"reason": ["other_member"]}
    assert_error(api.post("/api/v1/coupons/NOPE/use/", {"order_id": "o"}, format="json"), 404, "coupon_not_found")
    assert_error(api.post("/api/v1/coupons/NOPE/release/", {"order_id": "o"}, format="json"), 404, "coupon_not_found")
    assert_error(api.get("/api/v1/coupons/NOPE/"), 404, "coupon_not_found")
    assert_error(api.post(f"/api/v1/coupons/{code}/use/", {}, format="json"), 400, "validation_error")
    assert_error(
        api.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o", "order_amount": "x"}, format="json"),
        400,
        "validation_error",
    )
    assert_error(api.get("/api/v1/members/alice/coupons/?status=lost"), 400, "validation_error")
    assert_error(api.get("/api/v1/members/ghost/coupons/"), 404, "member_not_found")


# --- points holds -----------------------------------------------------------------------------------


def hold(api, amount=300, key="h-1", member="alice"):
    return api.post(
        f"/api/v1/members/{member}/points/holds/",
        {"amount": amount, "order_id": "o-1", "idempotency_key": key},
        format="json",
    )


def test_hold_capture_and_release(api, alice):
    created = hold(api)
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["amount"], body["cash_value"], body["balance_after"]) == ("held", 300, "3.00", 700)
    assert api.get("/api/v1/members/alice/").json()["points"]["available"] == 700
    replay = hold(api)
    assert (replay.status_code, replay.json()) == (200, body)
    assert_error(hold(api, amount=301), 409, "idempotency_conflict")

    captured = api.post(f"/api/v1/points/holds/{body['id']}/capture/", {"amount": 250}, format="json")
    assert captured.status_code == 200 and captured.json()["captured_amount"] == 250
    assert api.get("/api/v1/members/alice/").json()["points"]["available"] == 750
    assert_error(
        api.post(f"/api/v1/points/holds/{body['id']}/capture/", {"amount": 100}, format="json"),
        409,
        "idempotency_conflict",
    )
    released = api.post(f"/api/v1/points/holds/{body['id']}/release/", format="json")
    assert released.json()["status"] == "released"
    assert_error(api.post(f"/api/v1/points/holds/{body['id']}/capture/", {}, format="json"), 422, "hold_not_active")
    assert api.get(f"/api/v1/points/holds/{body['id']}/").json()["status"] == "released"
    assert_ledger_consistent(alice)


def test_hold_errors(api, alice):
    assert_error(hold(api, amount=1001), 422, "insufficient_points")
    assert_error(hold(api, member="ghost"), 404, "member_not_found")
    assert_error(hold(api, member="%C2%A0"), 404, "member_not_found")  # a blank path names nobody (found by fuzzing)
    assert_error(hold(api, amount=0), 400, "validation_error")
    expired = hold(api, key="e").json()
    PointsHold.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(api.post(f"/api/v1/points/holds/{expired['id']}/capture/", {}, format="json"), 422, "hold_expired")
    for path in ("/api/v1/points/holds/999999/capture/", "/api/v1/points/holds/999999/release/"):
        assert_error(api.post(path, {}, format="json"), 404, "hold_not_found")
    assert_error(api.get("/api/v1/points/holds/999999/"), 404, "hold_not_found")
    assert_error(
        api.post(f"/api/v1/points/holds/{expired['id']}/capture/", {"amount": "all"}, format="json"),
        400,
        "validation_error",
    )


# --- member card and ladder -------------------------------------------------------------------------


def test_the_member_card_lists_the_tier_benefits_and_this_period_s_grant(
    api, alice, give_growth, make_benefit, make_template, tiers
):
    monthly = make_benefit(
        code="shipping",
        name="Free shipping",
        entitlement="monthly_coupons",
        coupon_template=make_template(),
        coupon_quantity=2,
        tiers=[tiers["gold"]],
    )
    make_benefit(code="fast-refund", name="Fast refund", tiers=[tiers["gold"]], sort_order=5)
    make_benefit(
        code="rebate", name="10%", entitlement="referral_rebate", rebate_percent=Decimal("10"), tiers=[tiers["diamond"]]
    )
    give_growth(alice, 6000)
    run_job_now(job="issue_benefits", as_of=timezone.now())

    benefits = api.get("/api/v1/members/alice/").json()["benefits"]

    assert [b["code"] for b in benefits] == ["shipping", "fast-refund"]
    shipping = benefits[0]
    assert shipping["entitlement"] == "monthly_coupons" and shipping["granted"]["coupons"] == 2
    assert shipping["period"] == timezone.now().astimezone(local(2026, 1, 1).tzinfo).strftime("%Y-%m")
    assert benefits[1]["granted"] is None and benefits[1]["period"] is None
    assert Coupon.objects.filter(member=alice, grant__benefit=monthly).count() == 2
    ladder = {t["code"]: t["benefits"] for t in api.get("/api/v1/tiers/").json()}
    assert [b["code"] for b in ladder["diamond"]] == ["rebate"]
    assert ladder["diamond"][0]["rebate_percent"] == "10.00"
    assert ladder["normal"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/coupons/a%00b/", None),
        ("get", "/api/v1/rewards/a%00b/", None),
        ("get", "/api/v1/members/a%00b/coupons/", None),
        ("post", "/api/v1/coupons/a%00b/use/", {"order_id": "o"}),
        ("post", "/api/v1/redemptions/", {"member": "alice", "reward": "r\x00", "idempotency_key": "k"}),
        ("post", "/api/v1/members/alice/points/holds/", {"amount": 1, "order_id": "o\x00", "idempotency_key": "k"}),
    ],
)
def test_nul_characters_are_validation_errors_not_server_errors(api, alice, method, path, body):
    response = api.get(path) if method == "get" else api.post(path, body, format="json")
    assert response.status_code in (400, 404)
    assert error_code(response) in ("validation_error", "coupon_not_found", "reward_not_found", "member_not_found")
