"""Every storefront sees and changes only what its own key created: another storefront's redemption
or points hold answers exactly as an id that does not exist, and a coupon used by one storefront is
released only by it. Coupons themselves belong to the member and are usable at any storefront."""

from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.api.serializers import OTHER_STOREFRONT
from loyalty.models import ProgramSettings
from loyalty.services import adjust_points, enrol_member
from rewards.models import Coupon, PointsHold, Redemption
from rewards.services.coupons import CouponOwner, issue_coupons
from tests.factories import UserFactory
from tests.helpers import assert_ledger_consistent
from tests.loyalty.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def shops(program):
    return client_for("web shop"), client_for("pos")


@pytest.fixture
def alice(program):
    member = enrol_member(external_id="alice")
    adjust_points(member=member, amount=5_000, reason="test setup", actor=UserFactory())
    return member


@pytest.fixture
def voucher(make_reward, make_template):
    return make_reward(code="voucher", points_cost=300, coupon_template=make_template(min_spend=Decimal("0")))


def _error(response) -> tuple[int, dict]:
    return response.status_code, response.json()["error"]


def test_another_storefronts_redemption_answers_as_an_id_that_does_not_exist(shops, alice, voucher):
    web, pos = shops
    made = web.post(
        "/api/v1/redemptions/", {"member": "alice", "reward": "voucher", "idempotency_key": "k"}, format="json"
    ).json()
    rid, absent = made["id"], made["id"] + 1000

    def not_found(pk):
        return 404, {"code": "redemption_not_found", "message": f"No redemption with id {pk}.", "fields": {}}

    assert _error(pos.get(f"/api/v1/redemptions/{rid}/")) == not_found(rid)
    assert _error(pos.get(f"/api/v1/redemptions/{absent}/")) == not_found(absent)
    assert _error(pos.post(f"/api/v1/redemptions/{rid}/cancel/", {}, format="json")) == not_found(rid)
    assert _error(pos.post(f"/api/v1/redemptions/{absent}/cancel/", {}, format="json")) == not_found(absent)
    assert Redemption.objects.get(pk=rid).status == "completed"
    assert pos.get("/api/v1/members/alice/redemptions/").json()["results"] == []
    assert [r["id"] for r in web.get("/api/v1/members/alice/redemptions/").json()["results"]] == [rid]
    assert web.post(f"/api/v1/redemptions/{rid}/cancel/", {}, format="json").status_code == 200
    assert_ledger_consistent(alice)


def test_another_storefronts_hold_cannot_be_read_captured_or_released(shops, alice):
    web, pos = shops
    hold = web.post(
        "/api/v1/members/alice/points/holds/", {"amount": 800, "order_id": "o-1", "idempotency_key": "h"}, format="json"
    ).json()
    hid = hold["id"]
    assert web.post(f"/api/v1/points/holds/{hid}/capture/", {}, format="json").status_code == 200

    for response in (
        pos.get(f"/api/v1/points/holds/{hid}/"),
        pos.post(f"/api/v1/points/holds/{hid}/release/", format="json"),
        pos.post(f"/api/v1/points/holds/{hid}/capture/", {}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "hold_not_found",
            "message": f"No hold with id {hid}.",
            "fields": {},
        }
    alice.refresh_from_db()
    assert PointsHold.objects.get(pk=hid).status == "captured"
    assert alice.points_available == 4_200, "the captured points were not refunded to another storefront"
    assert web.post(f"/api/v1/points/holds/{hid}/release/", format="json").json()["status"] == "released"


def test_the_ledgers_show_another_storefronts_entries_without_its_order_ids(shops, alice, voucher):
    """The member's balance is shared, so every storefront sees every entry; but the reason and
    event id of an entry another storefront caused (its orders, holds, redemptions) are its own."""
    web, pos = shops
    web.post(
        "/api/v1/events/",
        {"event_id": "w-1", "member": "alice", "type": "purchase", "amount": "120", "order_id": "secret-order"},
        format="json",
    )
    hold = web.post(
        "/api/v1/members/alice/points/holds/",
        {"amount": 100, "order_id": "secret-order", "idempotency_key": "h"},
        format="json",
    ).json()
    web.post(f"/api/v1/points/holds/{hold['id']}/release/", format="json")
    made = web.post(
        "/api/v1/redemptions/", {"member": "alice", "reward": "voucher", "idempotency_key": "k"}, format="json"
    ).json()
    web.post(f"/api/v1/redemptions/{made['id']}/cancel/", {"reason": "secret note"}, format="json")

    def entries(client, ledger):
        return client.get(f"/api/v1/members/alice/{ledger}/").json()["results"]

    seen_by_pos = entries(pos, "points") + entries(pos, "growth") + entries(pos, "tier-history")
    assert "secret" not in str(seen_by_pos)
    foreign = [entry for entry in entries(pos, "points") if entry["reason"] == OTHER_STOREFRONT]
    assert len(foreign) == 5, "earn, hold spend and refund, redemption spend and refund"
    assert all(entry["event_id"] is None for entry in foreign)
    assert next(e for e in entries(pos, "points") if e["kind"] == "adjust")["reason"] == "test setup"
    seen_by_web = str(entries(web, "points"))
    assert "secret-order" in seen_by_web and "secret note" in seen_by_web
    assert {entry["event_id"] for entry in entries(web, "growth")} == {"w-1"}


def test_a_coupon_is_released_only_by_the_storefront_that_used_it(shops, alice, voucher):
    web, pos = shops
    code = web.post(
        "/api/v1/redemptions/", {"member": "alice", "reward": "voucher", "idempotency_key": "k"}, format="json"
    ).json()["coupons"][0]["code"]
    assert web.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o-1"}, format="json").status_code == 200

    refused = pos.post(f"/api/v1/coupons/{code}/release/", {"order_id": "o-1"}, format="json")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "coupon_not_usable"
    assert refused.json()["error"]["fields"] == {"reason": ["other_storefront"]}
    again = pos.post(f"/api/v1/coupons/{code}/use/", {"order_id": "o-1"}, format="json")
    assert again.status_code == 422, "another storefront's use is not a replay of this one"
    assert Coupon.objects.get(code=code).status == "used"
    assert web.post(f"/api/v1/coupons/{code}/release/", {"order_id": "o-1"}, format="json").json()["status"] == "active"


def test_coupons_from_benefits_are_usable_at_any_storefront(shops, alice, make_template):
    web, pos = shops
    template = make_template(min_spend=Decimal("0"))
    [coupon] = issue_coupons(
        template=template,
        owners=[CouponOwner(member_id=alice.pk)],
        issued_at=timezone.now(),
        zone=ProgramSettings.current().zone,
    )
    assert pos.post(f"/api/v1/coupons/{coupon.code}/use/", {"order_id": "p-1"}, format="json").status_code == 200
    assert pos.post(f"/api/v1/coupons/{coupon.code}/release/", {"order_id": "p-1"}, format="json").status_code == 200
    assert web.post(f"/api/v1/coupons/{coupon.code}/use/", {"order_id": "w-1"}, format="json").status_code == 200
