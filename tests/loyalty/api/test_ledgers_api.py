from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from loyalty.services import enrol_member, record_event, spend_points

from .conftest import error_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(alice):
    base = timezone.now() - timedelta(days=3)
    for day in range(3):
        record_event(
            source="web-shop",  # the `api` fixture's storefront: its own event ids are shown to it
            event_id=f"c{day}",
            member="alice",
            event_type="check_in",
            occurred_at=base + timedelta(days=day),
        )
    record_event(source="web-shop", event_id="p", member="alice", event_type="purchase", amount="700", order_id="o")
    spend_points(member=alice, amount=100, reason="coupon", source="mall")
    return alice


def test_points_ledger_newest_first_with_signed_amounts(api, history):
    body = api.get("/api/v1/members/alice/points/").json()
    assert body["count"] == 5
    rows = body["results"]
    assert rows[0]["kind"] == "spend"
    assert rows[0]["amount"] == -100
    assert rows[0]["event_id"] is None
    assert rows[1]["kind"] == "earn" and rows[1]["event_id"] == "p"
    assert set(rows[0]) >= {"id", "kind", "amount", "reason", "event_id", "created_at", "expires_at"}
    times = [datetime.fromisoformat(r["created_at"]) for r in rows]
    assert times == sorted(times, reverse=True)


def test_points_ledger_filters_by_kind_and_date_range(api, history):
    earned = api.get("/api/v1/members/alice/points/", {"kind": "earn"}).json()
    assert {r["kind"] for r in earned["results"]} == {"earn"}
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    recent = api.get("/api/v1/members/alice/points/", {"created_after": since}).json()
    assert [r["kind"] for r in recent["results"]] == ["spend", "earn"]


def test_ledger_pagination(api, history):
    page = api.get("/api/v1/members/alice/points/", {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]
    assert api.get("/api/v1/members/alice/points/", {"page_size": 2, "page": "2"}).status_code == 200
    assert error_code(api.get("/api/v1/members/alice/points/", {"page": "99"})) == "not_found"  # past the last


@pytest.mark.parametrize("page", ["", "0", "-1", "two", "²"])
def test_a_page_that_is_not_a_whole_number_from_1_is_refused(api, history, page):
    """Not read as page 1: the schema says a whole number from 1 (schemathesis found `?page=`)."""
    assert error_code(api.get("/api/v1/members/alice/points/", {"page": page})) == "validation_error"
    assert error_code(api.get("/api/v1/rewards/", {"page": page})) == "validation_error"


def test_bad_filters_are_400(api, history):
    assert error_code(api.get("/api/v1/members/alice/points/", {"kind": "stolen"})) == "validation_error"
    assert error_code(api.get("/api/v1/members/alice/growth/", {"created_before": "soon"})) == "validation_error"


def test_growth_ledger(api, history):
    rows = api.get("/api/v1/members/alice/growth/").json()["results"]
    assert [r["amount"] for r in rows] == [700, 5, 5, 5]


def test_tier_history(api, history):
    rows = api.get("/api/v1/members/alice/tier-history/").json()["results"]
    assert [(r["from_tier"] and r["from_tier"]["code"], r["to_tier"]["code"], r["reason"]) for r in rows] == [
        ("normal", "bronze", "upgrade"),
        (None, "normal", "enrolment"),
    ]
    assert rows[0]["event_id"] == "p"


def test_ledgers_of_unknown_members_are_404(api):
    for path in ("points", "growth", "tier-history"):
        response = api.get(f"/api/v1/members/nobody/{path}/")
        assert response.status_code == 404
        assert error_code(response) == "member_not_found"


def test_a_member_sees_only_its_own_entries(api, history):
    enrol_member(external_id="bob")
    assert api.get("/api/v1/members/bob/points/").json()["count"] == 0


def test_tiers_lists_the_ladder(api):
    tiers = api.get("/api/v1/tiers/").json()
    assert [t["code"] for t in tiers] == ["normal", "bronze", "silver", "gold", "platinum", "diamond"]
    assert tiers[2]["threshold"] == 2000
    assert tiers[2]["points_multiplier"] == "1.100"
    assert tiers[0]["benefits"] == []


def test_openapi_schema_and_docs_are_served_without_a_key(client):
    schema = client.get("/api/schema/", HTTP_HOST="localhost")
    assert schema.status_code == 200
    assert b"/api/v1/events/batch/" in schema.content
    docs = client.get("/api/docs/", HTTP_HOST="localhost")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()
