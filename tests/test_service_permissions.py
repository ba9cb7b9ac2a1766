"""Every service a staff member calls re-checks that person's permission, whatever called it (the
admin's views and actions check first; an import, a command or a future view may not). Each
service is called twice by a staff user: without the permission it is refused and changes nothing,
with exactly that permission it goes through."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import JobRun, Tier, TierChange
from loyalty.selectors.dashboard import refresh_dashboard
from loyalty.services import change_tier_manually, enrol_member, recalculate_tier_now
from loyalty.services.jobs import start_job_run
from loyalty.services.privacy import anonymise_member
from members.errors import NotPermitted
from members.models import Member, MemberNote
from members.services import add_member_note, close_member, freeze_member, unfreeze_member, update_member
from rewards.models import CodePool, PoolCode
from rewards.services import add_pool_code, import_pool_codes
from webhooks import services as webhooks
from webhooks.models import Endpoint

from .helpers import staff_with

pytestmark = pytest.mark.django_db


def _member() -> Member:
    return Member.objects.get(external_id="alice")


def _pool() -> CodePool:
    return CodePool.objects.get(code="cinema")


@dataclass(frozen=True)
class Guarded:
    permission: str
    call: Callable  # call(actor)
    state: Callable  # what the call changes, read back

    def __str__(self):
        return self.permission


def _gold() -> Tier:
    return Tier.objects.get(code="gold")


SERVICES = {
    "update_member": Guarded(
        "members.change_member",
        lambda actor: update_member(member=_member(), changes={"name": "Alice B."}, actor=actor),
        lambda: _member().name,
    ),
    "freeze_member": Guarded(
        "members.freeze_member", lambda actor: freeze_member(member=_member(), actor=actor), lambda: _member().status
    ),
    "unfreeze_member": Guarded(
        "members.freeze_member",
        lambda actor: unfreeze_member(member=_member(), actor=actor),
        lambda: _member().status,
    ),
    "change_tier_manually": Guarded(
        "members.change_member",
        lambda actor: change_tier_manually(member=_member(), tier=_gold(), actor=actor, reason="test"),
        lambda: _member().tier_id,
    ),
    "recalculate_tier_now": Guarded(
        "members.change_member",
        lambda actor: recalculate_tier_now(member=_member(), actor=actor),
        lambda: TierChange.objects.filter(reason="recalculation").count(),
    ),
    "start_job_run": Guarded(
        "loyalty.run_job",
        lambda actor: start_job_run(job="expire_points", started_by=actor),
        lambda: JobRun.objects.count(),
    ),
    "import_pool_codes": Guarded(
        "rewards.change_codepool",
        lambda actor: import_pool_codes(pool=_pool(), text="code\nA-1\n", actor=actor),
        lambda: PoolCode.objects.count(),
    ),
    "add_pool_code": Guarded(
        "rewards.change_codepool",
        lambda actor: add_pool_code(pool=_pool(), code="B-1", actor=actor),
        lambda: PoolCode.objects.count(),
    ),
    "refresh_dashboard": Guarded("members.view_member", lambda actor: refresh_dashboard(actor=actor), lambda: None),
    "close_member": Guarded(
        "members.close_member",
        lambda actor: close_member(member=_member(), reason="asked to leave", actor=actor),
        lambda: _member().status,
    ),
    "anonymise_member": Guarded(
        "members.anonymise_member",
        lambda actor: anonymise_member(member=_member(), reason="erasure request", actor=actor),
        lambda: _member().anonymised_at,
    ),
    "add_member_note": Guarded(
        "members.add_membernote",
        lambda actor: add_member_note(member=_member(), text="called about a parcel", actor=actor),
        lambda: MemberNote.objects.count(),
    ),
    "create_endpoint": Guarded(
        "webhooks.add_endpoint",
        lambda actor: webhooks.create_endpoint(url="https://crm.example.com/", event_types="*", actor=actor),
        lambda: Endpoint.objects.count(),
    ),
    "change_endpoint": Guarded(
        "webhooks.change_endpoint",
        lambda actor: webhooks.change_endpoint(
            endpoint=_endpoint(),
            url="https://a.example.com/",
            event_types="tier.*",
            description="",
            include_personal_data=False,
            actor=actor,
        ),
        lambda: _endpoint().event_types,
    ),
    "rotate_secret": Guarded(
        "webhooks.change_endpoint",
        lambda actor: webhooks.rotate_secret(endpoint=_endpoint(), actor=actor),
        lambda: _endpoint().secrets.count(),
    ),
    "pause_endpoint": Guarded(
        "webhooks.change_endpoint",
        lambda actor: webhooks.pause_endpoint(endpoint=_endpoint(), actor=actor),
        lambda: _endpoint().status,
    ),
    "disable_endpoint": Guarded(
        "webhooks.change_endpoint",
        lambda actor: webhooks.disable_endpoint(endpoint=_endpoint(), actor=actor),
        lambda: _endpoint().status,
    ),
    "send_test_event": Guarded(
        "webhooks.change_endpoint",
        lambda actor: webhooks.send_test_event(endpoint=_endpoint(), actor=actor),
        lambda: _endpoint().deliveries.count(),
    ),
    "resend_delivery": Guarded(
        "webhooks.resend_delivery",
        lambda actor: webhooks.resend_delivery(delivery=_endpoint().deliveries.get(), actor=actor),
        lambda: _endpoint().deliveries.get().status,
    ),
    "replay_deliveries": Guarded(
        "webhooks.resend_delivery",
        lambda actor: webhooks.replay_deliveries(endpoint=_endpoint(), since=_long_ago(), actor=actor),
        lambda: _endpoint().deliveries.get().status,
    ),
}


def _endpoint() -> Endpoint:
    return Endpoint.objects.get(url__startswith="https://a.")


def _long_ago():
    return timezone.now() - timedelta(days=1)


@pytest.fixture
def world(program, tiers):
    member = enrol_member(external_id="alice")
    CodePool.objects.create(code="cinema", name="Cinema")
    # Gold by hand with no growth: the recalculation has something to move.
    change_tier_manually(member=member, tier=tiers["gold"], actor=None, reason="setup")
    endpoint, _ = webhooks.create_endpoint(url="https://a.example.com/", event_types="*")
    # A delivery that failed: resending and replaying make it wait again.
    endpoint.deliveries.create(event_id=uuid.uuid4(), event_type="webhook.test", body="{}", status="failed")


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_refuses_a_staff_member_without_its_permission(world, name):
    guarded = SERVICES[name]
    if name == "unfreeze_member":
        freeze_member(member=_member())
    before = guarded.state()
    everyone_else = [p for p in {g.permission for g in SERVICES.values()} if p != guarded.permission]
    with pytest.raises(NotPermitted):
        guarded.call(staff_with(*everyone_else))
    assert guarded.state() == before

    if name == "change_tier_manually":
        change_tier_manually(member=_member(), tier=Tier.objects.get(code="normal"), actor=None, reason="setup")
        before = guarded.state()
    guarded.call(staff_with(guarded.permission))
    if name != "refresh_dashboard":
        assert guarded.state() != before, "with the permission the service does its work"
