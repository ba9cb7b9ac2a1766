"""How far back an event may be, in both event paths: events older than the program's
max_event_age_days are refused as event_too_old, and instants near year 1 the same way, before any
time arithmetic could overflow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import Event

from .conftest import post_event

pytestmark = pytest.mark.django_db


def _ago(days: float) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00-12:00", "1900-01-01T00:00:00Z"])
def test_far_past_instants_are_too_old_not_an_overflow(api, alice, moment):
    response = post_event(api, event_id="e-1", member="alice", type="check_in", occurred_at=moment)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "event_too_old")
    assert list(response.json()["error"]["fields"]) == ["occurred_at"]


def test_far_future_instants_are_refused_without_an_overflow(api, alice):
    response = post_event(api, event_id="e-1", member="alice", type="check_in", occurred_at="9999-12-31T23:59:59-14:00")
    assert (response.status_code, list(response.json()["error"]["fields"])) == (400, ["occurred_at"])


def test_events_older_than_the_program_allows_are_refused_in_both_paths(api, alice, configure_program):
    configure_program(max_event_age_days=30)
    single = post_event(
        api, event_id="old-1", member="alice", type="purchase", amount="10", order_id="o-1", occurred_at=_ago(31)
    )
    assert (single.status_code, single.json()["error"]["code"]) == (422, "event_too_old")
    assert single.json()["error"]["fields"] == {"occurred_at": ["At most 30 days ago."]}
    events = [
        {
            "event_id": "old-2",
            "member": "alice",
            "type": "purchase",
            "amount": "10",
            "order_id": "o-2",
            "occurred_at": _ago(31),
        },
        {
            "event_id": "new-1",
            "member": "alice",
            "type": "purchase",
            "amount": "10",
            "order_id": "o-3",
            "occurred_at": _ago(29),
        },
        {
            "event_id": "old-3",
            "member": "alice",
            "type": "return",
            "amount": "1",
            "original_order_id": "o-3",
            "occurred_at": _ago(31),
        },
    ]
    results = api.post("/api/v1/events/batch/", {"events": events}, format="json").json()["results"]
    assert [(r["status"], r.get("error", {}).get("code")) for r in results] == [
        ("error", "event_too_old"),
        ("applied", None),
        ("error", "event_too_old"),
    ]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["new-1"]


def test_the_default_accepts_last_years_events(api, alice):
    response = post_event(
        api, event_id="e-1", member="alice", type="purchase", amount="10", order_id="o-1", occurred_at=_ago(400)
    )
    assert response.status_code == 201


def test_a_replay_of_an_event_that_has_since_become_too_old_is_still_a_replay(api, alice, configure_program):
    body = {"event_id": "e-1", "member": "alice", "type": "check_in", "occurred_at": _ago(20)}
    first = api.post("/api/v1/events/", body, format="json")
    configure_program(max_event_age_days=10)
    again = api.post("/api/v1/events/", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "١٢٣.٤٥"),  # Arabic-Indic digits: Python's \d takes them, the schema's does not
        ("amount", "１２３"),  # full-width digits
        ("event_id", 10**18 + 1),
        ("event_id", -(10**18) - 1),
    ],
)
def test_the_server_refuses_what_the_schema_refuses(api, alice, field, value):
    event = {"event_id": "e-1", "member": "alice", "type": "purchase", "amount": "10", "order_id": "o"}
    response = post_event(api, **(event | {field: value}))
    assert (response.status_code, list(response.json()["error"]["fields"])) == (400, [field])
    assert post_event(api, **(event | {"event_id": 10**18})).status_code == 201
    assert not Event.objects.exclude(event_id=str(10**18)).exists()
