"""SQL that differs between PostgreSQL and SQLite, each PostgreSQL form with a portable fallback
that gives the same numbers (the tests run on both)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction

# The reports aggregate millions of rows into a million groups (per-member RFM, medians, distinct
# members per tier and rule); Debian's default 4 MB of work_mem sends those sorts and hashes to disk.
REPORT_WORK_MEM = "256MB"


@contextmanager
def report_transaction() -> Iterator[None]:
    """One read transaction for a report, on PostgreSQL with the memory its aggregates need and JIT
    off (it compiles for longer than these statements gain)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")
                cursor.execute("SET LOCAL jit = off")
        yield


def moment(value: datetime):
    """A datetime as the backend's SQL parameter (raw SQL does not adapt it on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def elapsed_days(later: str, earlier: str) -> str:
    """Days (fractional) from one timestamp expression to another."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later}) - ({earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def medians(source: str, columns: list[str]) -> str:
    """A one-row query of the medians (percentile_cont(0.5): the mean of the two middle values for an
    even count, NULL for no rows) of `columns` of the query `source`."""
    if connection.vendor == "postgresql":
        return (
            "SELECT "
            + ", ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {column}) AS {column}" for column in columns)
            + f" FROM ({source}) AS median_source"
        )
    count = f"(SELECT COUNT(*) FROM ({source}) AS counted)"
    return "SELECT " + ", ".join(
        f"""(SELECT AVG({column}) FROM (SELECT {column} FROM ({source}) AS ordered ORDER BY {column}
             LIMIT 2 - {count} %% 2 OFFSET ({count} - 1) / 2) AS middle) AS {column}"""
        for column in columns
    )


def local_date(column: str) -> str:
    """The program day of a timestamp expression, in the time zone given as the %(zone)s parameter."""
    if connection.vendor == "postgresql":
        return f"CAST(({column}) AT TIME ZONE %(zone)s AS DATE)"
    return f"django_datetime_cast_date({column}, %(zone)s, 'UTC')"


def local_month(column: str) -> str:
    """The first day of the program month of a timestamp expression (zone as in local_date)."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', ({column}) AT TIME ZONE %(zone)s) AS DATE)"
    return f"substr(django_datetime_cast_date({column}, %(zone)s, 'UTC'), 1, 8) || '01'"


def days_between(later_date: str, earlier_date: str) -> str:
    """Whole days from one date expression to another."""
    if connection.vendor == "postgresql":
        return f"(({later_date}) - ({earlier_date}))"
    return f"CAST(julianday({later_date}) - julianday({earlier_date}) AS INTEGER)"
