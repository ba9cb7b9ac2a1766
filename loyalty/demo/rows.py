"""Rows built in memory and written in bulk, with primary keys handed out before insertion.

Why not `bulk_create`: it compiles every value of every row through the SQL compiler, a few
microseconds each, which for millions of ledger rows took far longer than simulating them. The
writer here adapts values with the same `Field.get_db_prep_save` that `bulk_create` uses, but only
for the fields that need it, and hands whole chunks to COPY (PostgreSQL) or `executemany`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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

    @transaction.atomic
    def write(self) -> None:
        now = timezone.now()  # for auto_now fields, as bulk_create would set them
        memo: dict[str, dict] = {}  # adapted values by field type, shared by the tables of the chunk
        for model in WRITE_ORDER:
            rows = self.by_model[model]
            if rows:
                TableWriter(model, rows[0], now, memo).write(rows)


class TableWriter:
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

    def write(self, rows: list[Any]) -> None:
        quote = self.connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in self.fields)
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(self.values(row))
            else:
                placeholders = ", ".join(["%s"] * len(self.fields))
                cursor.executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", [self.values(row) for row in rows]
                )


class ChunkWriter:
    """Writes each chunk in a background thread, on that thread's own connection, so that the
    database works on one chunk while Python replays the next; at most one chunk is in flight.

    Inside a caller's transaction (tests) it writes synchronously in that transaction instead: a
    second connection could neither see the caller's uncommitted rows nor be rolled back with them."""

    def __init__(self):
        self._executor = None
        if not connection.in_atomic_block:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-data-writer")
        self._in_flight: Future | None = None

    def __enter__(self) -> ChunkWriter:
        return self

    def write(self, rows: ChunkRows) -> None:
        if self._executor is None:
            rows.write()
            return
        self.wait()
        self._in_flight = self._executor.submit(rows.write)

    def wait(self) -> None:
        """Until the chunk in flight is committed; re-raises its error if it failed."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            in_flight.result()

    def __exit__(self, *exc_info) -> None:
        if self._executor is None:
            return
        try:
            self.wait()
        finally:
            self._executor.submit(connections.close_all).result()
            self._executor.shutdown()


def reset_sequences() -> None:
    """Explicit keys bypass PostgreSQL's sequences; move them past the new rows (a no-op on SQLite)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(WRITE_ORDER))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
