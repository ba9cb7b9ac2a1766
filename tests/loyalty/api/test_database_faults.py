"""The database failing under the API, on PostgreSQL: a connection it dropped is replaced before the
next request, and a statement it stops answering (a timeout) is a retryable 503, never a 500. A batch
that committed part of its events reports them and refuses only the rest."""

from __future__ import annotations

import psycopg
import pytest
from django.db import close_old_connections, connection

from loyalty.models import Event
from loyalty.services import enrol_member
from members.models import Member
from tests.helpers import ensure_default_program

from .conftest import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL"),
]


def _second_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**params, autocommit=True)


def test_a_connection_the_database_dropped_is_replaced_before_the_next_request():
    ensure_default_program()
    enrol_member(external_id="alice")
    api = client_for("web shop")
    assert api.get("/api/v1/members/alice/").status_code == 200
    with _second_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    close_old_connections()  # what Django's handler does as every request starts (the test client skips it)
    card = api.get("/api/v1/members/alice/")
    event = api.post("/api/v1/events/", {"event_id": "e-1", "member": "alice", "type": "check_in"}, format="json")
    assert (card.status_code, event.status_code) == (200, 201)


@pytest.fixture
def locked_member():
    """lock("m-260"): another transaction holds that member's row; this connection waits at most
    0.3 s for a lock (as a statement timeout would end a long wait)."""
    holder = _second_connection()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")

    def lock(external_id: str) -> None:
        holder.execute("BEGIN")
        holder.execute("SELECT id FROM members_member WHERE external_id = %s FOR UPDATE", [external_id])

    yield lock
    holder.close()
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


@pytest.fixture
def three_hundred():
    ensure_default_program()
    Member.objects.bulk_create(Member(external_id=f"m-{i:03d}", tier_id=_lowest_tier()) for i in range(300))
    return [
        {"event_id": f"e-{i:03d}", "member": f"m-{i:03d}", "type": "purchase", "amount": "10", "order_id": f"o-{i}"}
        for i in range(300)
    ]


def _lowest_tier() -> int:
    from loyalty.models import Tier

    return Tier.objects.order_by("rank").values_list("pk", flat=True).first()


def test_a_batch_the_database_stops_answering_part_way_reports_what_it_stored(three_hundred, locked_member):
    locked_member("m-260")  # in the batch's second transaction (events are committed ~250 at a time)
    response = client_for("web shop").post("/api/v1/events/batch/", {"events": three_hundred}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    applied = [r["event_id"] for r in results if r["status"] == "applied"]
    refused = {r["error"]["code"] for r in results if r["status"] == "error"}
    assert applied == [f"e-{i:03d}" for i in range(250)]
    assert refused == {"service_unavailable"}
    assert Event.objects.count() == 250


def test_a_batch_that_stored_nothing_is_a_retryable_503(three_hundred, locked_member):
    locked_member("m-010")
    api = client_for("web shop")
    for response in (
        api.post("/api/v1/events/batch/", {"events": three_hundred}, format="json"),
        api.post("/api/v1/events/", three_hundred[10], format="json"),
    ):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert response.json()["error"]["code"] == "service_unavailable"
    assert Event.objects.count() == 0
