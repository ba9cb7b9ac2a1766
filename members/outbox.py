"""Writing domain events to the outbox (members.models.DomainEvent), in the caller's transaction.

Every service whose change someone outside may care about calls `publish` (or `publish_many`, once
for all it did); the set-based jobs call `change_and_publish` once per chunk, with the UPDATE of the
members the events are about and a SELECT over the rows it changed. The rows exist exactly when the
change does: committed with it, gone with a rollback, never written by a dry run (which rolls back).
Nothing is published from signals.

Each member's events are numbered (`member_sequence`) from one sequence shared by all members, so
they rise in the order of the member's changes but are not consecutive: every change takes the
member's row lock first, so the numbers follow the order the changes committed in.
The relay (loyalty.outbox) delivers them; docs/architecture.md, "Domain events", lists the types and
their payloads. Payloads are thin: ids, codes and amounts, never a member's name, email or phone.
"""

from __future__ import annotations

import json
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
from .models import DomainEvent, DomainEventBatch, DomainEventNumber, Member

SCHEMA_VERSION = 1

# Every type the system publishes (docs/architecture.md has their payloads).
TYPES = (
    "member.enrolled",
    "member.updated",
    "member.status_changed",
    "member.anonymised",
    "member.first_purchase",
    "points.earned",
    "points.spent",
    "points.refunded",
    "points.expired",
    "points.adjusted",
    "points.expiring",
    "growth.changed",
    "tier.upgraded",
    "tier.downgraded",
    "tier.at_risk",
    "redemption.created",
    "redemption.cancelled",
    "redemption.fulfilment_changed",
    "coupon.issued",
    "coupon.used",
    "coupon.released",
    "coupon.expired",
    "coupon.voided",
    "coupon.expiring",
    "hold.created",
    "hold.captured",
    "hold.released",
    "adjustment.requested",
    "adjustment.decided",
    "benefit.granted",
    "tag.added",
    "tag.removed",
    "segment.entered",
    "segment.left",
    "campaign.status_changed",
    "campaign.budget_exhausted",
    "job.finished",
    "notification.requested",
)

_EVENTS = DomainEvent._meta.db_table
# PostgreSQL: the sequence every member's events are numbered from (members migration 0011).
SEQUENCE = "members_domainevent_number"


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


def change_and_publish(
    *, change: str, returning: str, portable_changed: str, events: str, params: Mapping[str, Any]
) -> int:
    """Set-based: run `change` (an UPDATE over the rows the events are about) and write an event per
    row of `events`, a SELECT over `changed` whose columns are named member_id, type, occurred_at,
    payload, external_id and ord. Returns how many rows the change touched.

    On PostgreSQL `changed` is the change's own RETURNING rows (`returning` lists their columns): one
    statement, which reads nothing a second time and takes each member's external id from the row it
    updates. SQLite has no data-modifying CTEs, so there `changed` is `portable_changed`, a SELECT of
    the same columns (external_id may be empty) read just before the change."""
    _check_in_transaction()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ctes = [f"changed AS ({change} RETURNING {returning})", *identified_ctes(events)]
            cursor.execute(f"WITH {', '.join(ctes)} SELECT COUNT(*) FROM changed", params)
            return cursor.fetchone()[0]
        cursor.execute(
            f"WITH changed AS ({portable_changed}) SELECT member_id, type, occurred_at, payload FROM ({events}) AS h"
            " ORDER BY member_id, ord",
            params,
        )
        found = cursor.fetchall()
        _insert_portable(
            [
                Occurrence(event_type, json.loads(payload), member_id, _moment(at))
                for member_id, event_type, at, payload in found
            ],
            timezone.now(),
        )
        cursor.execute(change, params)
        return cursor.rowcount


def publish_selected(*, happened: str, params: Mapping[str, Any]) -> int:
    """Set-based, for a job that changes nothing but has something to tell (the notifications'
    notices: tier.at_risk, points.expiring): an event per row of `happened`, a SELECT of member_id,
    type, occurred_at, payload and ord. The caller holds the row locks of the members it publishes
    about, as every publisher does, so that each member's sequence follows the order of commits.
    Returns how many events it wrote."""
    _check_in_transaction()
    if connection.vendor == "postgresql":
        return fetch_all(f"WITH {', '.join(outbox_ctes(happened))} SELECT COUNT(*) FROM outbox_h", params)[0][0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT member_id, type, occurred_at, payload FROM ({happened}) AS h ORDER BY member_id, ord", params
        )
        found = cursor.fetchall()
    _insert_portable(
        [
            Occurrence(event_type, json.loads(payload), member_id, _moment(at))
            for member_id, event_type, at, payload in found
        ],
        timezone.now(),
    )
    return len(found)


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
    type, occurred_at, payload, ord), for a caller that writes them in a statement of its own. The
    names start with `outbox_`. Each row's member external id is looked up in the chunk's id range;
    nothing selected: no batch, nothing written."""
    return [
        f"outbox_h (member_id, type, occurred_at, payload, ord) AS ({happened})",
        _BATCH,
        _insert_numbered(
            f"""SELECT h.member_id, h.type, h.occurred_at, h.payload, COALESCE(m.external_id, '') AS external_id
                FROM outbox_h AS h
                LEFT JOIN {Member._meta.db_table} AS m ON m.id = h.member_id AND m.id {_IN_RANGE}
                ORDER BY h.member_id, h.ord"""
        ),
    ]


# The range of the member ids selected, for the join above: without it the planner, which cannot
# know how many rows a CTE holds, hashed the whole members table for a chunk's few thousand rows
# (0.6 s a chunk at a million members); with it, it reads the range by index (a job's chunk is one
# range).
_IN_RANGE = "BETWEEN (SELECT MIN(member_id) FROM outbox_h) AND (SELECT MAX(member_id) FROM outbox_h)"


def identified_arrays_of(
    occurrences: Sequence[Occurrence], now: datetime, *, external_ids: Mapping[int, str]
) -> tuple[str, list[Any]]:
    """PostgreSQL, for a caller that knows the external ids of every member among the occurrences
    (the event batch path): the rows with those ids, as a SELECT over array parameters for
    `identified_ctes`, whose statement then needs no join."""
    return (
        "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[], %b::text[]::jsonb[], %b::text[],"
        " %b::bigint[])",
        [
            [o.member_id for o in occurrences],
            [o.type for o in occurrences],
            [o.occurred_at or now for o in occurrences],
            [json.dumps(o.payload, cls=DjangoJSONEncoder) for o in occurrences],
            [external_ids.get(o.member_id, "") if o.member_id is not None else "" for o in occurrences],
            list(range(len(occurrences))),
        ],
    )


def identified_ctes(happened: str) -> list[str]:
    """`outbox_ctes` for the rows of `identified_arrays_of` (member_id, type, occurred_at, payload,
    external_id, ord)."""
    return [
        f"outbox_h (member_id, type, occurred_at, payload, external_id, ord) AS ({happened})",
        _BATCH,
        _insert_numbered(
            "SELECT member_id, type, occurred_at, payload, external_id FROM outbox_h ORDER BY member_id, ord"
        ),
    ]


_BATCH = f"""outbox_batch AS (
                INSERT INTO {DomainEventBatch._meta.db_table} (created_at)
                SELECT now() WHERE EXISTS (SELECT FROM outbox_h)
                RETURNING id)"""


def _insert_numbered(ordered: str) -> str:
    """The events of `ordered` (member_id, type, occurred_at, payload, external_id; each member's in
    the order of its changes), each with the next number from the sequence: its id is made from it
    (members_event_id: the time and the number), and a member's event keeps it as its sequence. The
    numbers are drawn as the ordered subquery's rows come out (PostgreSQL does not flatten a
    subquery with ORDER BY, nor one that calls nextval()), so a member's events in one statement are
    numbered in their order; across statements the member's row lock, which every publisher holds,
    orders them."""
    return f"""outbox_events AS (
                {_INSERT_EVENTS}
                SELECT members_event_id(h.number), h.type, {SCHEMA_VERSION}, h.occurred_at, now(),
                       (SELECT id FROM outbox_batch), h.member_id, h.external_id,
                       CASE WHEN h.member_id IS NOT NULL THEN h.number END, h.payload
                FROM (SELECT nextval('{SEQUENCE}') AS number, o.* FROM ({ordered}) AS o) AS h)"""


_INSERT_EVENTS = f"""INSERT INTO {_EVENTS} (id, type, schema_version, occurred_at, recorded_at, batch_id, member_id,
                                            member_external_id, member_sequence, payload)"""


def json_object(**values: str) -> str:
    """SQL for a JSON object of SQL expressions, for `change_and_publish`: json_object(points="-x.amount")."""
    function = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    pairs = ", ".join(f"'{key}', {expression}" for key, expression in values.items())
    return f"{function}({pairs})"


def _check_in_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("Domain events are written in the transaction of the change they record.")


def _run_postgres(happened: str, params: Mapping[str, Any] | Sequence[Any], *, prepare: bool) -> None:
    fetch_all(f"WITH {', '.join(outbox_ctes(happened))} SELECT 1", params, prepare=prepare)


def _insert_portable(occurrences: Sequence[Occurrence], now: datetime) -> None:
    """Any other database (SQLite, the demo's, one writer at a time): the same rows, numbered from
    the one-row counter `DomainEventNumber` where PostgreSQL has its sequence."""
    if not occurrences:
        return
    numbered = sum(1 for o in occurrences if o.member_id is not None)
    table = DomainEventNumber._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (id, last) VALUES (1, %s)
                ON CONFLICT (id) DO UPDATE SET last = {table}.last + excluded.last RETURNING last""",
            [numbered],
        )
        (last,) = cursor.fetchone()
    next_number = last - numbered + 1
    owners = {o.member_id for o in occurrences if o.member_id is not None}
    external_ids = dict(Member.objects.filter(pk__in=owners).values_list("pk", "external_id"))
    batch = DomainEventBatch.objects.create(created_at=now)
    rows = []
    for occurrence in occurrences:
        owner = occurrence.member_id
        sequence: int | None = None
        if owner is not None:
            sequence, next_number = next_number, next_number + 1
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
