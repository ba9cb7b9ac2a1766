"""The event catalogue (webhooks.catalogue): a schema for every type the outbox publishes, the docs'
section generated from it, and bodies made both ways valid against it. (tests/test_demo.py checks
every payload the demo and the API guide's requests publish against it.)"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from loyalty import outbox
from members.outbox import TYPES
from webhooks import catalogue, messages
from webhooks.models import Delivery
from webhooks.services import create_endpoint, send_test_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECTION = re.compile(r"<!-- catalogue:start -->\n(.*?)\n<!-- catalogue:end -->", re.S)


def test_every_published_type_has_a_schema():
    assert set(catalogue.DATA) == {*TYPES, messages.TEST_EVENT}
    for schema in catalogue.DATA.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_the_docs_catalogue_is_generated_from_it():
    (section,) = SECTION.findall(DOCS.read_text(encoding="utf-8"))
    assert section == catalogue.markdown(), "run: python manage.py webhook_schemas --markdown"


def test_the_command_prints_each_types_body_schema():
    out = io.StringIO()
    call_command("webhook_schemas", stdout=out)
    schemas = json.loads(out.getvalue())
    assert set(schemas) == set(catalogue.all_types())
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.django_db
def test_delivered_bodies_match_their_types_schema(program, enrol, user):
    from loyalty.services import adjust_points

    endpoint, _ = create_endpoint(url="https://hooks.example.com/", event_types="*", include_personal_data=True)
    member = enrol("M-1", email="ann@example.com")
    adjust_points(member=member, amount=40, reason="welcome", actor=user)
    send_test_event(endpoint=endpoint)
    outbox.relay()
    bodies = [json.loads(d.body) for d in Delivery.objects.all()]
    assert {b["type"] for b in bodies} >= {"member.enrolled", "points.adjusted", "webhook.test"}
    for body in bodies:
        jsonschema.validate(body, catalogue.envelope(body["type"]), format_checker=jsonschema.FormatChecker())
