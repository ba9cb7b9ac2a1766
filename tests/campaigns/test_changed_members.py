"""A member the domain events say changed has their tags and segments refreshed within a minute,
not only at night: the outbox subscriber notes them, the refresh waits for their changes to settle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import PendingRefresh, SegmentMember
from campaigns.services import save_segment
from campaigns.services.refresh import WAIT_SECONDS, refresh_pending
from loyalty import outbox
from loyalty.services import enrol_member
from members.models import DomainEvent
from tests.helpers import purchase

pytestmark = pytest.mark.django_db


def test_a_purchase_that_upgrades_a_member_puts_them_in_the_segment_after_the_wait(program, tiers):
    segment = save_segment(code="bronze-plus", name="Bronze and up", definition={"tier": {"at_least": "bronze"}})
    member = enrol_member(external_id="alice")
    outbox.relay(max_seconds=5)
    purchase(member, "600", order_id="o-1", event_id="e-1")  # bronze at 500
    purchase(member, "10", order_id="o-2", event_id="e-2")
    outbox.relay(max_seconds=5)
    assert list(PendingRefresh.objects.values_list("member_id", flat=True)) == [member.pk], "noted once"

    now = timezone.now()
    assert not refresh_pending(now=now).members_changed, "changes still settling"
    changes = refresh_pending(now=now + timedelta(seconds=WAIT_SECONDS + 1))
    assert changes.entered["segment:bronze-plus"] == 1
    assert changes.entered["tag:new_30d"] == 1, "rule tags too"
    assert SegmentMember.objects.filter(version=segment.current_version, member=member).exists()
    assert DomainEvent.objects.filter(type="segment.entered", member=member).count() == 1
    assert not PendingRefresh.objects.exists()


def test_the_rfm_cut_is_worked_out_once_per_stored_rfm_run(program, monkeypatch):
    """The per-minute refresh must not read every stored RFM row each minute: the medians change only
    when store_member_rfm writes them."""
    from campaigns import selectors
    from loyalty.services.jobs import run_job_now

    worked_out = []
    real = selectors.stored_rfm_cut
    monkeypatch.setattr(selectors, "stored_rfm_cut", lambda: worked_out.append(1) or real())
    selectors.current_rfm_cut()
    selectors.current_rfm_cut()
    assert len(worked_out) == 2, "no finished run: worked out each time"
    run_job_now(job="store_member_rfm")
    selectors.current_rfm_cut()
    selectors.current_rfm_cut()
    assert len(worked_out) == 3, "once for the run"
    run_job_now(job="store_member_rfm", as_of=timezone.now() + timedelta(days=1))
    selectors.current_rfm_cut()
    assert len(worked_out) == 4, "again for the next run"
