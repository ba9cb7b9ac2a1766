from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import Event, GrowthEntry, PointsEntry
from members.services import freeze_member

from .conftest import error_code, post_event

pytestmark = pytest.mark.django_db

PURCHASE = {"event_id": "e-1", "member": "alice", "type": "purchase", "amount": "520.00", "order_id": "o-1"}


def test_applied_event_is_201_with_its_result(api, alice):
    response = post_event(api, **PURCHASE)
    assert response.status_code == 201
    assert response.json() == {
        "event_id": "e-1",
        "status": "applied",
        "growth_delta": 520,
        "points_delta": 520,
        "tier": {"code": "bronze", "name": "青铜 Bronze", "rank": 1},
        "tier_changed": True,
        "campaigns": [],
    }


def test_replay_is_200_with_the_identical_body_and_writes_nothing(api, alice):
    first = post_event(api, **PURCHASE)
    entries = GrowthEntry.objects.count() + PointsEntry.objects.count()
    again = post_event(api, **{**PURCHASE, "amount": "520"})  # the same amount, written differently
    assert again.status_code == 200
    assert again.json() == first.json()
    assert GrowthEntry.objects.count() + PointsEntry.objects.count() == entries


def test_same_event_id_with_another_body_is_409(api, alice):
    post_event(api, **PURCHASE)
    response = post_event(api, **{**PURCHASE, "amount": "1"})
    assert response.status_code == 409
    assert error_code(response) == "idempotency_conflict"


def test_event_ids_are_scoped_to_the_storefront(api, other_api, alice):
    assert post_event(api, **PURCHASE).status_code == 201
    response = post_event(other_api, **{**PURCHASE, "order_id": "pos-1"})
    assert response.status_code == 201
    assert set(Event.objects.values_list("source", flat=True)) == {"web-shop", "pos"}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"member": "ghost"}, 404, "member_not_found"),
        ({"type": "teleport"}, 422, "unknown_event_type"),
        ({"amount": "-5"}, 400, "validation_error"),
        ({"amount": "abc"}, 400, "validation_error"),
        ({"amount": "1e999999"}, 400, "validation_error"),
        ({"amount": True}, 400, "validation_error"),
        ({"event_id": ""}, 400, "validation_error"),
        ({"event_id": ["a"]}, 400, "validation_error"),
        ({"occurred_at": "2026-13-45T99:00:00Z"}, 400, "validation_error"),
        ({"occurred_at": "2026-01-01T10:00:00"}, 400, "validation_error"),
        ({"data": "not an object"}, 400, "validation_error"),
        ({"order_id": None}, 400, "validation_error"),
    ],
)
def test_bad_events_get_a_clear_error_and_write_nothing(api, alice, change, status, code):
    response = post_event(api, **{**PURCHASE, **change})
    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert not Event.objects.exists()


def test_huge_and_non_finite_numbers_are_400(api, alice):
    for raw in ["1e400", "NaN", "-Infinity", "123456789012345678901234567890"]:
        body = '{"event_id": "e", "member": "alice", "type": "purchase", "order_id": "o", "amount": ' + raw + "}"
        response = api.post("/api/v1/events/", body, content_type="application/json")
        assert response.status_code == 400, raw
        assert error_code(response) == "validation_error"
    assert not Event.objects.exists()


def test_occurred_at_in_the_future_is_refused(api, alice):
    later = (timezone.now() + timedelta(minutes=10)).isoformat()
    response = post_event(api, **{**PURCHASE, "occurred_at": later})
    assert response.status_code == 400
    assert "occurred_at" in response.json()["error"]["fields"]


def test_frozen_member_is_422(api, alice):
    freeze_member(member=alice)
    response = post_event(api, **PURCHASE)
    assert response.status_code == 422
    assert error_code(response) == "member_frozen"


def test_return_errors(api, alice):
    post_event(api, **PURCHASE)
    unknown = post_event(api, event_id="r-1", member="alice", type="return", amount="10", original_order_id="zz")
    assert (unknown.status_code, error_code(unknown)) == (422, "order_not_found")
    too_much = post_event(api, event_id="r-2", member="alice", type="return", amount="521", original_order_id="o-1")
    assert (too_much.status_code, error_code(too_much)) == (422, "refund_exceeds_order")


def test_return_reverses_proportionally(api, alice):
    post_event(api, **PURCHASE)
    response = post_event(api, event_id="r-1", member="alice", type="return", amount="260", original_order_id="o-1")
    assert response.status_code == 201
    assert response.json()["growth_delta"] == -260
    assert response.json()["points_delta"] == -260


def test_malformed_json_and_non_object_bodies_are_400(api):
    for body in ["{not json", "[1, 2]", '"text"', "null"]:
        response = api.post("/api/v1/events/", body, content_type="application/json")
        assert response.status_code == 400
        assert error_code(response) == "validation_error"


@pytest.mark.parametrize(
    "body",
    [
        '{"event_id": "e\\u0000", "member": "alice", "type": "check_in"}',
        '{"event_id": "e", "member": "alice", "type": "check_in", "data": {"note": "a\\u0000b"}}',
        '{"event_id": "e", "member": "alice", "type": "check_in", "data": {"k\\u0000": 1}}',
    ],
)
def test_nul_characters_in_a_body_are_400_not_a_database_error(api, alice, body):
    response = api.post("/api/v1/events/", body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert not Event.objects.exists()


def test_wrong_content_type_is_415(api):
    response = api.post("/api/v1/events/", "event_id=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert error_code(response) == "unsupported_media_type"


def test_batch_reports_each_event_in_order(api, alice):
    post_event(api, **PURCHASE)
    events = [
        {"event_id": "c-1", "member": "alice", "type": "check_in"},
        PURCHASE,
        {"event_id": "c-2", "member": "ghost", "type": "check_in"},
        "not an object",
        {"event_id": "c-3", "member": "alice", "type": "check_in"},
    ]
    response = api.post("/api/v1/events/batch/", {"events": events}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["applied", "duplicate", "error", "error", "applied"]
    assert results[0]["growth_delta"] == 5
    assert results[2]["event_id"] == "c-2"
    assert results[2]["error"]["code"] == "member_not_found"
    assert results[3]["error"]["code"] == "validation_error"
    assert results[4]["growth_delta"] == 0  # the daily check-in limit


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": "x"}, {"events": [{}] * 1001}])
def test_batch_needs_1_to_1000_events(api, body):
    response = api.post("/api/v1/events/batch/", body, format="json")
    assert response.status_code == 400
    assert "events" in response.json()["error"]["fields"]


def test_batch_keeps_each_members_events_in_order(api, alice):
    from loyalty.services import enrol_member

    enrol_member(external_id="bob")
    events = [
        {"event_id": "p-b", "member": "bob", "type": "purchase", "amount": "100", "order_id": "ob"},
        {"event_id": "p-a", "member": "alice", "type": "purchase", "amount": "300", "order_id": "oa"},
        {"event_id": "r-a", "member": "alice", "type": "return", "amount": "300", "original_order_id": "oa"},
        {"event_id": "r-b", "member": "bob", "type": "return", "amount": "50", "original_order_id": "ob"},
    ]
    results = api.post("/api/v1/events/batch/", {"events": events}, format="json").json()["results"]
    assert [(r["event_id"], r["status"], r["growth_delta"]) for r in results] == [
        ("p-b", "applied", 100),
        ("p-a", "applied", 300),
        ("r-a", "applied", -300),
        ("r-b", "applied", -50),
    ]


def test_an_earning_event_is_recorded_set_based_with_its_result_stored_once(api, alice):
    """POST events/ records an earning event as a batch of one: the event row is inserted with its
    result, never updated afterwards, and the ledgers and the member's cache agree with it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty.models import RuleHit, TierChange
    from members.models import Member

    with CaptureQueriesContext(connection) as queries:
        response = post_event(api, **PURCHASE)
    assert response.status_code == 201
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith('UPDATE "LOYALTY_EVENT"')]
    event = Event.objects.get(event_id="e-1")
    assert (event.growth_delta, event.points_delta, event.tier_after.code, event.tier_changed) == (
        520,
        520,
        "bronze",
        True,
    )
    assert [(e.amount, e.remaining, e.event_id) for e in GrowthEntry.objects.filter(member=alice)] == [
        (520, 520, event.pk)
    ]
    assert PointsEntry.objects.get(member=alice).event_id == event.pk
    assert RuleHit.objects.get(member=alice).event_id == event.pk
    assert TierChange.objects.get(member=alice, event=event).to_tier.code == "bronze"
    member = Member.objects.get(pk=alice.pk)
    assert (member.growth_value, member.points_available + member.points_pending, member.tier.code) == (
        520,
        520,
        "bronze",
    )
    assert member.purchase_count == 1 and member.last_purchase_at == event.occurred_at


def test_a_return_still_goes_through_the_lots(api, alice):
    post_event(api, **PURCHASE)
    response = post_event(api, event_id="r-1", member="alice", type="return", amount="20.00", original_order_id="o-1")
    assert response.status_code == 201
    assert response.json()["growth_delta"] == -20
    assert GrowthEntry.objects.filter(member=alice, kind=GrowthEntry.Kind.REVERSE).get().amount == -20
