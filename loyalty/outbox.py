"""The relay: hands the outbox's domain events (members.outbox) to the registered subscribers
(loyalty.extensions.outbox_subscribers), each event to each subscriber at least once and, for any
one member, in the order of the changes.

1. **Numbering.** The committed batches not numbered yet get the next positions in the order of
   their ids, under the numbering row's lock (taken with SKIP LOCKED: one relay numbers at a time,
   the others go on delivering). A batch still being written is not visible yet and is numbered on
   a later pass; it never shares a member with a batch numbered before it (members.outbox), so a
   member's events keep their order.
2. **Delivery.** For each subscriber, its progress row is claimed FOR UPDATE SKIP LOCKED (a relay
   already delivering to it is left to it), the events of the next numbered batches are handed
   over in (position, member, member sequence) order, and the position moves on — all in one
   transaction. A relay killed mid-batch leaves the position where it was: the next run hands the
   same events over again, so subscribers must be idempotent (the member sequence tells a repeat).
   A subscriber that raises keeps its position and its error, and is tried again after a back-off.

Celery beat runs `relay` every few seconds (loyalty.tasks.relay_outbox); in the demo, beat runs
in a thread of the server's process and the task with it. `prune_delivered` removes what every subscriber has, after
OUTBOX_RETENTION_DAYS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from loyalty import extensions
from loyalty.extensions import OutboxEvent, Subscriber
from loyalty.models import OutboxNumbering, OutboxSubscriber
from members.models import DomainEvent, DomainEventBatch
from members.permissions import require_permission

BATCHES_PER_DELIVERY = 200
BATCHES_PER_NUMBERING = 5_000
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class RelayReport:
    numbered: int  # batches
    delivered: int  # events handed over, over all subscribers
    failures: int


def number_batches(*, limit: int = BATCHES_PER_NUMBERING) -> int:
    """Number the committed batches that have no position yet; 0 when another relay is numbering."""
    table = DomainEventBatch._meta.db_table
    rows = OutboxNumbering.objects.filter(pk=OutboxNumbering.SINGLETON_PK)
    with transaction.atomic():
        numbering = rows.select_for_update(skip_locked=True).first()
        if numbering is None:
            if rows.exists():
                return 0  # another relay is numbering
            # Migration 0021 makes the row; a test database that was flushed has none.
            OutboxNumbering.objects.get_or_create(pk=OutboxNumbering.SINGLETON_PK)
            numbering = rows.select_for_update().get()
        with connection.cursor() as cursor:
            cursor.execute(
                # A sub-select, not a WITH: Python's sqlite3 reports no row count for a
                # statement that does not begin with UPDATE.
                f"""UPDATE {table} SET position = %s + next.n
                    FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS n FROM {table}
                          WHERE position IS NULL ORDER BY id LIMIT %s) AS next
                    WHERE {table}.id = next.id""",
                [numbering.last_position, limit],
            )
            numbered = cursor.rowcount
        if numbered:
            numbering.last_position += numbered
            numbering.save(update_fields=["last_position"])
    return numbered


def start_subscribers() -> None:
    """A progress row for every registered subscriber: a new one starts after what is numbered now
    (it is not handed the past), unless it asks for everything still kept (`from_start`)."""
    known = set(OutboxSubscriber.objects.values_list("name", flat=True))
    for name, subscriber in extensions.outbox_subscribers.items():
        if name not in known:
            start = 0 if subscriber.from_start else _last_position()
            OutboxSubscriber.objects.get_or_create(name=name, defaults={"position": start})


def _last_position() -> int:
    return OutboxNumbering.objects.values_list("last_position", flat=True).first() or 0


@dataclass(frozen=True)
class Delivery:
    batches: int  # how far the subscriber moved on (0: caught up, busy elsewhere, waiting, or failed)
    events: int  # how many it was handed (fewer than the batches hold when it takes only some types)


NOTHING = Delivery(batches=0, events=0)


def deliver(name: str, subscriber: Subscriber, *, batches: int = BATCHES_PER_DELIVERY) -> Delivery:
    """Hand `subscriber` the events of its next numbered batches."""
    now = timezone.now()
    with transaction.atomic():
        progress = (
            OutboxSubscriber.objects.select_for_update(skip_locked=True)
            .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now), name=name)
            .first()
        )
        if progress is None:
            return NOTHING
        positions = [
            position
            for position in DomainEventBatch.objects.filter(position__gt=progress.position)
            .order_by("position")
            .values_list("position", flat=True)[:batches]
            if position is not None
        ]
        if not positions:
            return NOTHING
        try:
            with transaction.atomic():
                handed = _hand_over(subscriber, progress.position, positions[-1])
        except Exception as error:  # noqa: BLE001 - whatever a subscriber raises, its events must wait for it
            progress.failures += 1
            progress.last_error = f"{type(error).__name__}: {error}"[:2000]
            progress.retry_at = now + min(FIRST_RETRY * 2 ** (progress.failures - 1), LONGEST_RETRY)
            progress.save(update_fields=["failures", "last_error", "retry_at"])
            return NOTHING
        progress.position = positions[-1]
        progress.delivered += handed
        progress.failures, progress.last_error, progress.retry_at = 0, "", None
        progress.last_delivery_at = now
        progress.save()
        return Delivery(batches=len(positions), events=handed)


def _hand_over(subscriber: Subscriber, after: int, upto: int) -> int:
    if subscriber.handle_range is not None:
        return subscriber.handle_range(after, upto)
    events = list(events_between(after, upto, subscriber.types))
    if events and subscriber.handle is not None:
        subscriber.handle(events)
    return len(events)


def events_between(after: int, upto: int, types: frozenset[str] | None = None) -> Iterator[OutboxEvent]:
    """The events of the batches at positions (after, upto], in delivery order."""
    rows = (
        DomainEvent.objects.filter(batch__position__gt=after, batch__position__lte=upto)
        .annotate(position=F("batch__position"))
        .order_by("batch__position", "member_id", "member_sequence", "id")
    )
    if types is not None:
        rows = rows.filter(type__in=types)
    return (OutboxEvent.of(row, row.position) for row in rows)


def relay(*, max_seconds: float = 50, batches: int = BATCHES_PER_DELIVERY) -> RelayReport:
    """Number and deliver until every subscriber is caught up (or `max_seconds` have passed),
    handing each subscriber up to `batches` batches at a time."""
    start_subscribers()
    deadline = time.monotonic() + max_seconds
    numbered = delivered = 0
    while True:
        numbered_now = number_batches()
        moved = False
        for name, subscriber in extensions.outbox_subscribers.items():
            delivery = deliver(name, subscriber, batches=batches)
            moved = moved or delivery.batches > 0
            delivered += delivery.events
        numbered += numbered_now
        if (not numbered_now and not moved) or time.monotonic() >= deadline:
            break
    failures = OutboxSubscriber.objects.filter(failures__gt=0, name__in=extensions.outbox_subscribers.names()).count()
    return RelayReport(numbered=numbered, delivered=delivered, failures=failures)


def prune_delivered(*, now: datetime | None = None, retention_days: int | None = None, limit: int = 10_000) -> int:
    """Remove the events every registered subscriber has been handed, older than the retention;
    returns how many. With no subscribers, every numbered event counts as delivered."""
    now = now or timezone.now()
    days = settings.OUTBOX_RETENTION_DAYS if retention_days is None else retention_days
    progress = OutboxSubscriber.objects.filter(name__in=extensions.outbox_subscribers.names())
    delivered_upto = min(progress.values_list("position", flat=True), default=_last_position())
    old = DomainEventBatch.objects.filter(position__lte=delivered_upto, created_at__lt=now - timedelta(days=days))
    removed = 0
    while ids := list(old.order_by("position").values_list("id", flat=True)[:limit]):
        with transaction.atomic():
            removed += DomainEvent.objects.filter(batch_id__in=ids).delete()[0]
            DomainEventBatch.objects.filter(id__in=ids).delete()
    return removed


@transaction.atomic
def retry_now(*, subscriber: OutboxSubscriber, actor) -> None:
    """Try a failing subscriber at the next relay run instead of after its back-off."""
    require_permission(actor, "loyalty.retry_outboxsubscriber", "You may not retry outbox subscribers.")
    OutboxSubscriber.objects.filter(pk=subscriber.pk).update(retry_at=None)
