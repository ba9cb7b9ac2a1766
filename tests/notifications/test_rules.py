"""The notifications' time arithmetic, without a database."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from notifications.rules import day_bounds, next_recalculation, quiet_until

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = (dt.time(21), dt.time(8))


def at(hour: int, minute: int = 0, day: int = 10) -> dt.datetime:
    return dt.datetime(2027, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (at(20, 59), None),
        (at(21, 0), at(8, day=11)),
        (at(23, 30), at(8, day=11)),
        (at(0, 0), at(8)),
        (at(7, 59), at(8)),
        (at(8, 0), None),
        (at(12), None),
    ],
)
def test_quiet_hours_over_midnight(now, until):
    assert quiet_until(now, *NIGHT) == until


def test_quiet_hours_within_a_day_and_none():
    assert quiet_until(at(13), dt.time(12), dt.time(14)) == at(14)
    assert quiet_until(at(14), dt.time(12), dt.time(14)) is None
    assert quiet_until(at(3), dt.time(0), dt.time(0)) is None


def test_the_programs_day():
    assert day_bounds(at(23, 59)) == (at(0), at(0, day=11))


@pytest.mark.parametrize(
    ("today", "day", "expected"),
    [
        (dt.date(2027, 3, 10), 1, dt.date(2027, 4, 1)),
        (dt.date(2027, 3, 1), 1, dt.date(2027, 4, 1)),  # today's recalculation is not the next
        (dt.date(2027, 12, 20), 1, dt.date(2028, 1, 1)),
        (dt.date(2027, 3, 10), 15, dt.date(2027, 3, 15)),
        (dt.date(2027, 2, 10), 31, dt.date(2027, 2, 28)),
    ],
)
def test_the_next_recalculation(today, day, expected):
    assert next_recalculation(today, day) == expected
