"""The relay (loyalty.outbox): each domain event to each registered subscriber at least once, a
member's events in their order; a failing subscriber keeps its place and is tried again; delivered
events are pruned after the retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from loyalty import extensions, outbox
from loyalty.extensions import Subscriber
from loyalty.models import OutboxSubscriber
from loyalty.services import enrol_member
from members.errors import NotPermitted
from members.models import DomainEvent, DomainEventBatch
from tests.factories import UserFactory
from tests.helpers import purchase, record

pytestmark = pytest.mark.django_db


class Collector:
    """A subscriber's handler that keeps what it is handed; fails the first `failures` times."""

    def __init__(self, failures: int = 0):
        self.events = []
        self.failures = failures

    def __call__(self, events):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the endpoint is down")
        self.events += events

    def ids(self) -> list[str]:
        return [event.id for event in self.events]


@pytest.fixture
def subscribe(monkeypatch):
    """Register the test's own subscribers, and only them: the apps' (the segments' refresh) are
    set aside, so the counts are the test's."""
    monkeypatch.setattr(extensions.outbox_subscribers, "_entries", {})
    names = []

    def register(name: str, handler, **options) -> None:
        extensions.outbox_subscribers.register(name, Subscriber(handle=handler, **options))
        names.append(name)

    yield register
    for name in names:
        extensions.outbox_subscribers.unregister(name)


def delivery_order() -> list[str]:
    rows = DomainEvent.objects.order_by("batch__position", "member_id", "member_sequence", "id")
    return [str(pk) for pk in rows.values_list("id", flat=True)]


def some_history() -> None:
    for name in ("ann", "bob", "cy"):
        member = enrol_member(external_id=name)
        purchase(member, "700", order_id=f"{name}-1")  # bronze
        record(member, "check_in")


def test_every_subscriber_gets_every_event_in_order(program, subscribe):
    everything, upgrades = Collector(), Collector()
    subscribe("everything", everything)
    subscribe("upgrades", upgrades, types=frozenset({"tier.upgraded"}))
    outbox.relay()  # they start here
    some_history()

    report = outbox.relay()

    assert everything.ids() == delivery_order()
    assert [event.type for event in upgrades.events] == ["tier.upgraded"] * 3
    for member in ("ann", "bob", "cy"):
        sequences = [event.sequence for event in everything.events if event.member == member]
        assert sequences == sorted(set(sequences)), f"{member}'s events in the order of their numbers"
    assert report.delivered == len(everything.events) + 3
    first = everything.events[0]
    assert (first.type, first.member, first.schema_version) == ("member.enrolled", "ann", 1)
    assert outbox.relay().delivered == 0, "nothing is handed over twice once delivered"
    progress = OutboxSubscriber.objects.get(name="upgrades")
    assert (progress.delivered, progress.failures, progress.position) == (3, 0, DomainEventBatch.objects.count())


def test_a_new_subscriber_starts_after_what_is_numbered_unless_it_asks_for_the_past(program, subscribe):
    some_history()
    outbox.relay()
    late, from_start = Collector(), Collector()
    subscribe("late", late)
    subscribe("from start", from_start, from_start=True)
    enrol_member(external_id="dee")
    outbox.relay()
    assert [event.member for event in late.events] == ["dee"]
    assert from_start.ids() == delivery_order()


def test_a_failing_subscriber_keeps_its_place_and_gets_the_same_events_again(program, subscribe):
    flaky, steady = Collector(failures=2), Collector()
    subscribe("flaky", flaky)
    subscribe("steady", steady)
    outbox.relay()
    some_history()

    outbox.relay()
    progress = OutboxSubscriber.objects.get(name="flaky")
    assert flaky.events == [] and steady.ids() == delivery_order()
    assert (progress.position, progress.failures) == (0, 1)
    assert progress.last_error == "ConnectionError: the endpoint is down"
    assert progress.retry_at > timezone.now()
    outbox.relay()
    assert flaky.events == [], "it waits for its retry"

    staff = UserFactory()
    with pytest.raises(NotPermitted):
        outbox.retry_now(subscriber=progress, actor=staff)
    staff.user_permissions.add(Permission.objects.get(codename="retry_outboxsubscriber"))
    outbox.retry_now(subscriber=progress, actor=type(staff).objects.get(pk=staff.pk))
    outbox.relay()  # fails a second time: a longer wait
    progress.refresh_from_db()
    assert progress.failures == 2 and progress.retry_at > timezone.now() + timedelta(seconds=45)

    OutboxSubscriber.objects.filter(name="flaky").update(retry_at=timezone.now())
    outbox.relay()
    progress.refresh_from_db()
    assert flaky.ids() == delivery_order()
    assert (progress.failures, progress.last_error, progress.retry_at) == (0, "", None)


def test_delivered_events_are_pruned_after_the_retention(program, subscribe, settings):
    settings.OUTBOX_RETENTION_DAYS = 7
    behind = Collector(failures=1)
    subscribe("behind", behind)
    outbox.relay()
    some_history()
    outbox.relay()  # "behind" fails: it still needs them all
    DomainEventBatch.objects.update(created_at=timezone.now() - timedelta(days=8))
    total = DomainEvent.objects.count()
    assert outbox.prune_delivered() == 0

    OutboxSubscriber.objects.filter(name="behind").update(retry_at=None)
    outbox.relay()
    enrol_member(external_id="recent")
    outbox.relay()
    assert outbox.prune_delivered() == total, "delivered and old: gone; delivered and recent: kept"
    assert list(DomainEvent.objects.values_list("member_external_id", flat=True)) == ["recent"]


def test_without_subscribers_the_relay_numbers_and_pruning_still_runs(program, settings):
    some_history()
    report = outbox.relay()
    assert report.numbered == DomainEventBatch.objects.count() > 0
    assert not DomainEventBatch.objects.filter(position__isnull=True).exists()
    DomainEventBatch.objects.update(created_at=timezone.now() - timedelta(days=settings.OUTBOX_RETENTION_DAYS + 1))
    assert outbox.prune_delivered() > 0
    assert not DomainEvent.objects.exists()


def test_the_beat_tasks_relay_and_prune(program, subscribe, settings):
    from loyalty.tasks import prune_outbox_task, relay_outbox_task

    received = Collector()
    subscribe("received", received, from_start=True)
    some_history()
    assert relay_outbox_task.apply().get() == len(received.events) > 0
    settings.OUTBOX_RETENTION_DAYS = 0
    assert prune_outbox_task.apply().get() == len(received.events)
