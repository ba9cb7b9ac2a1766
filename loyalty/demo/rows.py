"""Rows built in memory and written in bulk, with primary keys handed out before insertion.

Why not `bulk_create`: it compiles every value of every row through the SQL compiler, a few
microseconds each, which for millions of ledger rows took far longer than simulating them. Here
values are adapted with the same `Field.get_db_prep_save` that `bulk_create` uses, but only for the
fields that need it, and whole tables of a chunk go to COPY (PostgreSQL) or `executemany`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Field, Max, Model
from django.utils import timezone

from loyalty.models import (
    Event,
    GrowthAllocation,
    GrowthEntry,
    PointsAllocation,
    PointsEntry,
    RuleHit,
    TierChange,
)
from members.models import Member

# Referenced tables before the tables that point at them.
WRITE_ORDER: tuple[type[Model], ...] = (
    Member,
    Event,
    RuleHit,
    GrowthEntry,
    PointsEntry,
    GrowthAllocation,
    PointsAllocation,
    TierChange,
)
# The database driver takes these as they are; other fields go through Field.get_db_prep_save.
PASSED_AS_IS = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "EmailField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
}

# Adapting a date-time costs microseconds, and the same instants recur within a row (created_at,
# recorded_at, available_at, released_at), across tables (an event and its entries) and across rows
# (expiries fall on midnights). The adaptation depends only on the field type and the value.
MEMOIZED = {"DateField", "DateTimeField"}


class IdAllocator:
    """Primary keys taken in memory, so rows can point at each other before any is inserted. Keys
    continue after the current maximum of each table, which also makes a second run append."""

    def __init__(self):
        self._next = {model: (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1 for model in WRITE_ORDER}

    def take(self, model: type[Model]) -> int:
        pk = self._next[model]
        self._next[model] = pk + 1
        return pk


class ChunkRows:
    """Everything one chunk of members produced, by table."""

    def __init__(self):
        self.by_model: dict[type[Model], list[Any]] = defaultdict(list)

    def add(self, model: type[Model], row: Any) -> None:
        self.by_model[model].append(row)

    def counts(self) -> dict[type[Model], int]:
        return {model: len(self.by_model[model]) for model in WRITE_ORDER}

    def prepared(self) -> list[TableBatch]:
        """The chunk as database values, table by table in WRITE_ORDER."""
        now = timezone.now()  # for auto_now fields, as bulk_create would set them
        memo: dict[str, dict] = {}  # adapted values by field type, shared by the tables of the chunk
        return [
            TablePreparer(model, self.by_model[model][0], now, memo).batch(self.by_model[model])
            for model in WRITE_ORDER
            if self.by_model[model]
        ]


class TablePreparer:
    """Turns row objects (model instances or the light rows of `tables`) into database values."""

    def __init__(self, model: type[Model], sample_row: Any, now: datetime, memo: dict[str, dict]):
        self.model = model
        # The connection itself, not the thread-local proxy: it is consulted for every value.
        self.connection = connections[DEFAULT_DB_ALIAS]
        read: list[Field] = []
        fixed: list[tuple[Field, Any]] = []
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                fixed.append((field, now))
            elif hasattr(sample_row, field.attname):
                read.append(field)
            else:
                fixed.append((field, field.get_default()))
        self.fields = read + [field for field, _ in fixed]
        self._read = attrgetter(*(field.attname for field in read))
        self._adapters = [
            (i, self._adapter(field, memo))
            for i, field in enumerate(read)
            if field.get_internal_type() not in PASSED_AS_IS
        ]
        self._fixed = tuple(field.get_db_prep_save(value, self.connection) for field, value in fixed)

    def _adapter(self, field: Field, memo: dict[str, dict]) -> Callable[[Any], Any]:
        def adapt(value):
            return field.get_db_prep_save(value, self.connection)

        if field.get_internal_type() not in MEMOIZED:
            return adapt
        adapted = memo.setdefault(field.get_internal_type(), {})

        def adapt_once(value):
            if value not in adapted:
                adapted[value] = adapt(value)
            return adapted[value]

        return adapt_once

    def values(self, row: Any) -> tuple:
        values = list(self._read(row))
        for i, adapt in self._adapters:
            values[i] = adapt(values[i])
        return (*values, *self._fixed)

    def batch(self, rows: list[Any]) -> TableBatch:
        return TableBatch(self.model, self.fields, [self.values(row) for row in rows])


@dataclass(frozen=True)
class TableBatch:
    model: type[Model]
    fields: list[Field]
    values: list[tuple]

    def write(self) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(field.column or field.attname) for field in self.fields)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for values in self.values:
                        copy.write_row(values)
            else:
                placeholders = ", ".join(["%s"] * len(self.fields))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", self.values)


def write_batches(batches: list[TableBatch], *, commit_after: Future | None = None) -> None:
    """One chunk in one transaction, committed only once `commit_after` (the previous chunk) has been:
    a chunk's members may name an earlier chunk's members as referrers."""
    with transaction.atomic():
        for batch in batches:
            batch.write()
        if commit_after is not None:
            commit_after.result()


class ChunkWriter:
    """Writes chunks in background threads, each on its own connection, while Python replays the
    next chunk. On PostgreSQL two chunks are in flight: one is copied while the other commits (the
    deferred foreign key checks at commit are a good part of the database's work). SQLite takes one
    writer at a time, so there one chunk is in flight.

    Inside a caller's transaction (tests) it writes synchronously in that transaction instead: a
    second connection could neither see the caller's uncommitted rows nor be rolled back with them."""

    def __init__(self):
        self._executor = None
        self._in_flight: deque[Future] = deque()
        self._max_in_flight = 2 if connection.vendor == "postgresql" else 1
        if not connection.in_atomic_block:
            self._executor = ThreadPoolExecutor(self._max_in_flight, thread_name_prefix="demo-data-writer")

    def __enter__(self) -> ChunkWriter:
        return self

    def write(self, rows: ChunkRows) -> None:
        # Preparing the values here, not in a writer thread, keeps the writers (the slower side) free.
        batches = rows.prepared()
        if self._executor is None:
            write_batches(batches)
            return
        while len(self._in_flight) >= self._max_in_flight:
            self._in_flight.popleft().result()
        previous = self._in_flight[-1] if self._in_flight else None
        self._in_flight.append(self._executor.submit(_write_in_thread, batches, previous))

    def __exit__(self, *exc_info) -> None:
        if self._executor is None:
            return
        try:
            while self._in_flight:
                self._in_flight.popleft().result()  # re-raises a failed chunk's error
        finally:
            self._executor.shutdown()


def _write_in_thread(batches: list[TableBatch], previous: Future | None) -> None:
    try:
        write_batches(batches, commit_after=previous)
    finally:
        connections.close_all()  # this thread's connection only; the next chunk opens its own


def analyze_tables() -> None:
    """Fresh statistics for PostgreSQL's planner: until autovacuum gets to millions of new rows, it
    plans the audit's and the admin's queries for nearly empty tables."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in WRITE_ORDER)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def reset_sequences() -> None:
    """Explicit keys bypass PostgreSQL's sequences; move them past the new rows (a no-op on SQLite)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(WRITE_ORDER))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
