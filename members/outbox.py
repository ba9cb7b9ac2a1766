"""Writing domain events to the outbox (members.models.DomainEvent), in the caller's transaction.

Every service whose change someone outside may care about calls `publish` (or `publish_many`, once
for all it did); the set-based jobs call `publish_selected` once per chunk with a SELECT over the
rows they just wrote. The rows exist exactly when the change does: committed with it, gone with a
rollback, never written by a dry run (which rolls back). Nothing is published from signals.

Each member's events are numbered 1, 2, 3 … (`member_sequence`) in the order of the changes: every
change takes the member's row lock first, so the numbers follow the order the changes committed in.
The relay (loyalty.outbox) delivers them; docs/architecture.md, "Domain events", lists the types and
their payloads. Payloads are thin: ids, codes and amounts, never a member's name, email or phone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uuid6
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .db import fetch_all
from .models import DomainEvent, DomainEventBatch, Member, MemberEventSequence

SCHEMA_VERSION = 1

# Every type the system publishes (docs/architecture.md has their payloads).
TYPES = (
    "member.enrolled",
    "member.updated",
    "member.status_changed",
    "points.earned",
    "points.spent",
    "points.refunded",
    "points.expired",
    "points.adjusted",
    "growth.changed",
    "tier.upgraded",
    "tier.downgraded",
    "redemption.created",
    "redemption.cancelled",
    "redemption.fulfilment_changed",
    "coupon.issued",
    "coupon.used",
    "coupon.released",
    "coupon.expired",
    "coupon.voided",
    "hold.created",
    "hold.captured",
    "hold.released",
    "adjustment.requested",
    "adjustment.decided",
    "benefit.granted",
    "job.finished",
)

_EVENTS = DomainEvent._meta.db_table
_SEQUENCES = MemberEventSequence._meta.db_table
_BATCHES = DomainEventBatch._meta.db_table
_MEMBERS_PER_STATEMENT = 400  # two parameters each, well under SQLite's limit


@dataclass(frozen=True)
class Occurrence:
    type: str
    payload: Mapping[str, Any]
    member_id: int | None = None
    occurred_at: datetime | None = None  # default: now


def publish(event_type: str, *, member: Member | None, payload: Mapping[str, Any], occurred_at=None) -> None:
    publish_many([Occurrence(event_type, payload, member.pk if member else None, occurred_at)])


def publish_many(occurrences: Sequence[Occurrence]) -> None:
    """Write the occurrences (a member's in the given order): one prepared statement on PostgreSQL."""
    if not occurrences:
        return
    _check_in_transaction()
    now = timezone.now()
    if connection.vendor == "postgresql":
        happened, params = arrays_of(occurrences, now)
        _run_postgres(happened, params, prepare=True)
    else:
        _insert_portable(occurrences, now)


def publish_selected(select_sql: str, params: Mapping[str, Any] | Sequence[Any]) -> None:
    """Set-based: one statement that writes an event per row of `select_sql`, whose columns are named
    member_id, type, occurred_at, payload and ord (`ord` orders a member's events among these rows;
    build the payload with `json_object()`). `params` are the SELECT's (named or positional)."""
    _check_in_transaction()
    if connection.vendor == "postgresql":
        _run_postgres(select_sql, params, prepare=False)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT member_id, type, occurred_at, payload FROM ({select_sql}) AS h ORDER BY ord", params)
        found = cursor.fetchall()
    _insert_portable(
        [
            Occurrence(event_type, json.loads(payload), member_id, _moment(at))
            for member_id, event_type, at, payload in found
        ],
        timezone.now(),
    )


def _moment(value: datetime | str) -> datetime | None:
    """A time as SQLite returns it from plain SQL (text in UTC), aware."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def arrays_of(occurrences: Sequence[Occurrence], now: datetime) -> tuple[str, list[Any]]:
    """PostgreSQL: the occurrences as a SELECT over array parameters (binary, `%b`), and the arrays."""
    return (
        "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[], %b::text[]::jsonb[], %b::bigint[])",
        [
            [o.member_id for o in occurrences],
            [o.type for o in occurrences],
            [o.occurred_at or now for o in occurrences],
            [json.dumps(o.payload, cls=DjangoJSONEncoder) for o in occurrences],
            list(range(len(occurrences))),
        ],
    )


def outbox_ctes(happened: str) -> list[str]:
    """PostgreSQL: the common table expressions that write the rows `happened` selects (member_id,
    type, occurred_at, payload, ord), for a caller that writes them in a statement of its own
    (the event batch path: one round trip for everything). The names start with `outbox_`.

    Each member's events are numbered on from the member's sequence as the statement sees it, in
    `ord` order, and the sequence moves on by their number (upserted in member order, locked until
    commit); then the batch takes its id — after those locks, so that for any one member the batch
    ids follow the order of the changes. Reading the sequence rather than the upsert's RETURNING is
    right because every publisher holds the member's row lock (so no one else moves the sequence
    meanwhile), and it can use the index, where joining the upsert's result was a nested loop over
    both (minutes for the 400,000 moves of a monthly recalculation). Nothing selected: no batch,
    nothing written."""
    return [
        f"outbox_h (member_id, type, occurred_at, payload, ord) AS ({happened})",
        *_sequences_and_batch(moved_by="COUNT(*)", new_last="s.last + EXCLUDED.last"),
        f"""outbox_events AS (
                {_INSERT_EVENTS}
                SELECT members_uuid7(), h.type, {SCHEMA_VERSION}, h.occurred_at, now(), (SELECT id FROM outbox_batch),
                       h.member_id, COALESCE(m.external_id, ''),
                       CASE WHEN h.member_id IS NOT NULL THEN
                           COALESCE(before.last, 0) + ROW_NUMBER() OVER (PARTITION BY h.member_id ORDER BY h.ord)
                       END,
                       h.payload
                FROM outbox_h AS h
                LEFT JOIN {_SEQUENCES} AS before ON before.member_id = h.member_id AND before.member_id {_IN_RANGE}
                LEFT JOIN {Member._meta.db_table} AS m ON m.id = h.member_id AND m.id {_IN_RANGE})""",
    ]


# The range of the member ids selected, for the joins above: without it the planner, which cannot
# know how many rows a CTE holds, hashed all of both tables for a chunk's few thousand rows (0.6 s
# a chunk at a million members); with it, it reads the range by index (a job's chunk is one range).
_IN_RANGE = "BETWEEN (SELECT MIN(member_id) FROM outbox_h) AND (SELECT MAX(member_id) FROM outbox_h)"


def numbered_arrays_of(
    occurrences: Sequence[Occurrence], now: datetime, *, external_ids: Mapping[int, str]
) -> tuple[str, list[Any]]:
    """PostgreSQL, for a caller that holds the locks of every member among the occurrences and knows
    their external ids (the event batch path): the rows numbered here, from the members' sequences
    read now, as a SELECT over array parameters for `numbered_ctes`. The statement then needs no join
    and no window; the read is one index lookup per member."""
    members = sorted({o.member_id for o in occurrences if o.member_id is not None})
    last = dict(fetch_all(f"SELECT member_id, last FROM {_SEQUENCES} WHERE member_id = ANY(%b::bigint[])", [members]))
    sequences: list[int | None] = []
    for occurrence in occurrences:
        if occurrence.member_id is None:
            sequences.append(None)
            continue
        last[occurrence.member_id] = last.get(occurrence.member_id, 0) + 1
        sequences.append(last[occurrence.member_id])
    return (
        "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[], %b::text[]::jsonb[], %b::text[],"
        " %b::bigint[])",
        [
            [o.member_id for o in occurrences],
            [o.type for o in occurrences],
            [o.occurred_at or now for o in occurrences],
            [json.dumps(o.payload, cls=DjangoJSONEncoder) for o in occurrences],
            [external_ids.get(o.member_id, "") if o.member_id is not None else "" for o in occurrences],
            sequences,
        ],
    )


def numbered_ctes(happened: str) -> list[str]:
    """`outbox_ctes` for rows numbered by `numbered_arrays_of` (member_id, type, occurred_at, payload,
    member_external_id, member_sequence): the members' sequences are set to their last number, the
    batch takes its id after those row locks, the events are inserted as they are."""
    return [
        f"outbox_h (member_id, type, occurred_at, payload, member_external_id, member_sequence) AS ({happened})",
        *_sequences_and_batch(moved_by="MAX(member_sequence)", new_last="EXCLUDED.last"),
        f"""outbox_events AS (
                {_INSERT_EVENTS}
                SELECT members_uuid7(), h.type, {SCHEMA_VERSION}, h.occurred_at, now(), (SELECT id FROM outbox_batch),
                       h.member_id, h.member_external_id, h.member_sequence, h.payload
                FROM outbox_h AS h)""",
    ]


def _sequences_and_batch(*, moved_by: str, new_last: str) -> list[str]:
    """The members' sequences moved on (upserted in member order, locked until commit), then the
    batch, whose id is taken after those locks; nothing selected, no batch."""
    return [
        f"""outbox_bumped AS (
                INSERT INTO {_SEQUENCES} AS s (member_id, last)
                SELECT member_id, {moved_by} FROM outbox_h WHERE member_id IS NOT NULL
                GROUP BY member_id ORDER BY member_id
                ON CONFLICT (member_id) DO UPDATE SET last = {new_last}
                RETURNING 1)""",
        f"""outbox_batch AS (
                INSERT INTO {_BATCHES} (created_at)
                SELECT now() WHERE (SELECT COUNT(*) FROM outbox_bumped) >= 0 AND EXISTS (SELECT FROM outbox_h)
                RETURNING id)""",
    ]


_INSERT_EVENTS = f"""INSERT INTO {_EVENTS} (id, type, schema_version, occurred_at, recorded_at, batch_id, member_id,
                                            member_external_id, member_sequence, payload)"""


def json_object(**values: str) -> str:
    """SQL for a JSON object of SQL expressions, for `publish_selected`: json_object(points="-x.amount")."""
    function = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    pairs = ", ".join(f"'{key}', {expression}" for key, expression in values.items())
    return f"{function}({pairs})"


def _check_in_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Domain events are written in the transaction of the change they record.")


def _run_postgres(happened: str, params: Mapping[str, Any] | Sequence[Any], *, prepare: bool) -> None:
    fetch_all(f"WITH {', '.join(outbox_ctes(happened))} SELECT 1", params, prepare=prepare)


def _insert_portable(occurrences: Sequence[Occurrence], now: datetime) -> None:
    """Any other database (SQLite, the demo's, one writer at a time): the same rows, in a few
    statements."""
    if not occurrences:
        return
    counts = sorted(Counter(o.member_id for o in occurrences if o.member_id is not None).items())
    first: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(counts), _MEMBERS_PER_STATEMENT):
            chunk = counts[start : start + _MEMBERS_PER_STATEMENT]
            cursor.execute(
                f"""INSERT INTO {_SEQUENCES} (member_id, last) VALUES {", ".join(["(%s, %s)"] * len(chunk))}
                    ON CONFLICT (member_id) DO UPDATE SET last = {_SEQUENCES}.last + excluded.last
                    RETURNING member_id, last""",
                [value for pair in chunk for value in pair],
            )
            bumped = dict(cursor.fetchall())
            first.update((member_id, bumped[member_id] - count + 1) for member_id, count in chunk)
    external_ids = dict(Member.objects.filter(pk__in=first).values_list("pk", "external_id"))
    batch = DomainEventBatch.objects.create(created_at=now)
    rows = []
    for occurrence in occurrences:
        owner = occurrence.member_id
        sequence: int | None = None
        if owner is not None:
            sequence = first[owner]
            first[owner] = sequence + 1
        rows.append(
            DomainEvent(
                id=uuid6.uuid7(),
                type=occurrence.type,
                schema_version=SCHEMA_VERSION,
                occurred_at=occurrence.occurred_at or now,
                recorded_at=now,
                batch=batch,
                member_id=owner,
                member_external_id=external_ids.get(owner, "") if owner is not None else "",
                member_sequence=sequence,
                payload=json.loads(json.dumps(occurrence.payload, cls=DjangoJSONEncoder)),
            )
        )
    DomainEvent.objects.bulk_create(rows)
