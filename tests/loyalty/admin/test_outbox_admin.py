"""The outbox in the admin: the domain events, filtered by type, member and date, each with its
payload; and the subscribers' progress, with "retry now" for whoever may."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty import extensions, outbox
from loyalty.extensions import Subscriber
from loyalty.models import OutboxSubscriber
from loyalty.services import enrol_member
from members.models import DomainEvent
from tests.helpers import purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(program):
    for name in ("ann", "bob"):
        purchase(enrol_member(external_id=name), "700", order_id=f"{name}-1")


def test_the_events_list_filters_by_type_member_and_date(login_as, client, history):
    login_as("members.view_domainevent")
    url = reverse("admin:members_domainevent_changelist")
    assert client.get(url).status_code == 200
    upgrades = client.get(url, {"type": "tier.upgraded"}).context["cl"].result_list
    assert {(e.type, e.member_external_id) for e in upgrades} == {("tier.upgraded", "ann"), ("tier.upgraded", "bob")}
    anns = client.get(url, {"q": "ann"}).context["cl"].result_list
    numbers = [e.member_sequence for e in anns]
    assert len(numbers) == 5 and numbers == sorted(numbers, reverse=True), "ann's events, newest first"
    today = DomainEvent.objects.first().occurred_at.date().isoformat()
    dated = client.get(url, {"occurred_at__range__gte": today, "occurred_at__range__lte": today})
    assert dated.status_code == 200
    event = DomainEvent.objects.get(type="tier.upgraded", member_external_id="ann")
    page = client.get(reverse("admin:members_domainevent_change", args=[event.pk]))
    assert page.status_code == 200 and b"&quot;to&quot;: &quot;bronze&quot;" in page.content


def test_the_subscribers_show_how_far_behind_they_are_and_can_be_retried(login_as, client, history):
    def failing(events):
        raise ConnectionError("down")

    extensions.outbox_subscribers.register("failing", Subscriber(handle=failing, from_start=True))
    try:
        outbox.relay()
        user = login_as("loyalty.view_outboxsubscriber")
        url = reverse("admin:loyalty_outboxsubscriber_changelist")
        listed = client.get(url)
        rows = {row.name: row for row in listed.context["cl"].result_list}
        row = rows["failing"]
        assert (row.batches_behind, row.failures) == (4, 1)
        assert rows["segments"].failures == 0, "the apps' subscribers are listed too"
        assert b"ConnectionError: down" in listed.content
        assert "retry_now" not in listed.context["cl"].model_admin.get_actions(listed.wsgi_request)

        from django.contrib.auth.models import Permission

        user.user_permissions.add(Permission.objects.get(codename="retry_outboxsubscriber"))
        client.post(url, {"action": "retry_now", "_selected_action": [row.pk]})
        assert OutboxSubscriber.objects.get(name="failing").retry_at is None
    finally:
        extensions.outbox_subscribers.unregister("failing")
