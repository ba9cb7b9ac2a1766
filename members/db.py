"""Plain SQL with parameters sent in binary, for statements with large array parameters.

Django's PostgreSQL cursors bind parameters client-side: arrays are quoted into SQL text element by
element in Python, which for the arrays of a 1,000-event batch cost as much as running the
statement. `fetch_all` runs a statement through a psycopg cursor on Django's own connection (so
inside its transaction) with server-side binding, and `%b` placeholders send parameters in binary.
With `prepare=True` the statement is prepared on its first run on a connection and later runs skip
parsing and planning: for the API's per-request statements, planning cost several times running
them. Only statements with a fixed text should be prepared (psycopg keeps the 100 most recent per
connection). Preparing is off when the database OPTIONS say `prepare_threshold: None` (Django's
default, for connection poolers without prepared-statement support; config/settings.py turns it on
unless DATABASE_PREPARED_STATEMENTS=0). Statements still go into Django's query log, so tests
that count queries see them. Other databases (the SQLite demo) use Django's cursor.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.db import connection, models
from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper


def fetch_all(sql: str, params: Sequence[Any] | Mapping[str, Any], *, prepare: bool = False) -> list[tuple]:
    """The statement's rows. Errors are Django's (IntegrityError ...), as from Django's cursors."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql.replace("%b", "%s"), params)
            return cursor.fetchall()
    # As Django's own cursors do first: with CONN_HEALTH_CHECKS, a persistent connection the database
    # dropped since the last request is replaced here rather than failing this statement.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        # Every int as int8: psycopg otherwise picks int2, int4 or int8 by the values, and each mix
        # of parameter types is a prepared statement of its own.
        cursor.adapters.register_dumper(int, Int8Dumper)
        cursor.adapters.register_dumper(int, Int8BinaryDumper)
        try:
            cursor.execute(sql, params, prepare=prepare)
        except psycopg.errors.FeatureNotSupported:
            # "cached plan must not change result type": a migration changed a column this prepared
            # statement returns. Outside a transaction, forget the connection's prepared statements
            # (psycopg does when it sees DEALLOCATE ALL) and run it again; inside one, the rollback
            # forgets them, and the caller's error handling decides.
            if not prepare or connection.in_atomic_block:
                raise
            cursor.execute("DEALLOCATE ALL")
            cursor.execute(sql, params, prepare=prepare)
        rows = cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def concrete_field(model: type[models.Model], name: str) -> models.Field:
    """A model's field that has a column (plain SQL names columns through this and `column`)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{model.__name__}.{name} has no column.")
    return field


def column(field: models.Field) -> str:
    """The database column of a concrete field."""
    if field.column is None:
        raise ValueError(f"{field} has no column.")
    return field.column
