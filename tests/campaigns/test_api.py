"""The tags and segments API: a member's tags (idempotent set, absent delete, the refusals), the
card's tag codes, and the segments read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import MemberTag, Tag, TagChange
from campaigns.services import save_segment
from loyalty.services import enrol_member
from tests.loyalty.api.conftest import client_for, error_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(program):
    return client_for("web shop")


@pytest.fixture
def alice(program):
    return enrol_member(external_id="alice", name="Alice")


@pytest.fixture
def guest(program):
    return Tag.objects.create(code="vip-event-2026", name="VIP event guest", group="events", api_writable=True)


def test_a_storefront_sets_reads_and_takes_off_a_tag(api, alice, guest):
    created = api.post("/api/v1/members/alice/tags/", {"tag": "vip-event-2026", "expires_at": None}, format="json")
    assert created.status_code == 201
    assert {"code": "vip-event-2026", "name": "VIP event guest", "source": "api", "expires_at": None} in created.json()[
        "tags"
    ]
    again = api.post("/api/v1/members/alice/tags/", {"tag": "vip-event-2026"}, format="json")
    assert again.status_code == 200 and again.json() == created.json()
    assert TagChange.objects.filter(tag=guest).count() == 1
    assert TagChange.objects.get(tag=guest).storefront.name == "web shop"
    assert "vip-event-2026" in api.get("/api/v1/members/alice/").json()["tags"]
    assert api.get("/api/v1/members/alice/tags/").json() == created.json()

    assert api.delete("/api/v1/members/alice/tags/vip-event-2026/").status_code == 204
    assert api.delete("/api/v1/members/alice/tags/vip-event-2026/").status_code == 204, "absent is 204 too"
    assert not MemberTag.objects.filter(tag=guest).exists()
    assert "vip-event-2026" not in api.get("/api/v1/members/alice/").json()["tags"]


def test_an_expired_tag_is_gone_from_every_read_at_once(api, alice, guest):
    api.post("/api/v1/members/alice/tags/", {"tag": "vip-event-2026"}, format="json")
    MemberTag.objects.filter(tag=guest).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "vip-event-2026" not in [t["code"] for t in api.get("/api/v1/members/alice/tags/").json()["tags"]]
    assert "vip-event-2026" not in api.get("/api/v1/members/alice/").json()["tags"]


def test_refusals(api, alice, guest):
    Tag.objects.create(code="staff-only", name="Staff only")
    refused = api.post("/api/v1/members/alice/tags/", {"tag": "staff-only"}, format="json")
    assert (refused.status_code, error_code(refused)) == (403, "permission_denied")
    unknown = api.post("/api/v1/members/alice/tags/", {"tag": "no-such"}, format="json")
    assert (unknown.status_code, error_code(unknown)) == (422, "unknown_tag")
    rule = api.post("/api/v1/members/alice/tags/", {"tag": "dormant_90d"}, format="json")
    assert (rule.status_code, error_code(rule)) == (422, "tag_kept_by_rule")
    extra = api.post("/api/v1/members/alice/tags/", {"tag": "vip-event-2026", "colour": "red"}, format="json")
    assert (extra.status_code, error_code(extra)) == (400, "validation_error")
    missing = api.post("/api/v1/members/nobody/tags/", {"tag": "vip-event-2026"}, format="json")
    assert (missing.status_code, error_code(missing)) == (404, "member_not_found")
    delete = api.delete("/api/v1/members/alice/tags/staff-only/")
    assert (delete.status_code, error_code(delete)) == (403, "permission_denied")
    assert not MemberTag.objects.filter(tag__kind="manual").exists()


def test_segments_are_read_only(api, alice, tiers):
    enrol_member(external_id="bob")
    save_segment(code="everyone", name="Everyone", definition={"points_available": {"gte": 0}})
    listed = api.get("/api/v1/segments/").json()["results"]
    assert [(row["code"], row["member_count"]) for row in listed] == [("everyone", 2)]
    assert listed[0]["computed_at"] is not None
    assert api.get("/api/v1/members/alice/segments/").json() == {"segments": ["everyone"]}
    assert api.post("/api/v1/segments/", {}, format="json").status_code == 405
