"""Schemathesis against /api/schema/: generated requests never get a 5xx, and every response
(errors included) conforms to the documented schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from config.wsgi import application
from loyalty.services.storefronts import create_api_key
from members.services import enrol_member

# Serving the schema needs no database, so it can be loaded when the module is collected.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application, headers={"Host": "localhost"})


@pytest.fixture
def test_transaction_survives_requests(db):
    """Calling the WSGI app directly fires Django's request signals, which would close the test's
    database connection mid-transaction; Django's own test client disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(test_transaction_survives_requests):
    enrol_member(external_id="alice")
    _, key = create_api_key(storefront_name="fuzzer")
    return {"Authorization": f"Api-Key {key}", "Host": "localhost"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, auth_headers):
    # The request schemas describe shapes; the services own the business rules (a well-shaped event
    # may still be refused, e.g. an unknown member), so "schema-valid data must be accepted" does not apply.
    # Nor does "schema-violating data must be refused": the key is always sent (a case meant to go
    # without it gets it), and unknown query parameters are ignored, as HTTP APIs do.
    case.call_and_validate(
        headers=auth_headers,
        excluded_checks=[schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection],
    )
