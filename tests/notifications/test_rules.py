"""The notifications' time arithmetic, without a database."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from notifications.rules import day_bounds, next_day_matching, quiet_until

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


def first_of_month(day: dt.date) -> bool:
    return day.day == 1


def thirty_first(day: dt.date) -> bool:
    return day.day == 31


def quarterly_first_monday(day: dt.date) -> bool:
    return day.month in (1, 4, 7, 10) and day.day <= 7 and day.isoweekday() == 1


@pytest.mark.parametrize(
    ("today", "days", "expected"),
    [
        (dt.date(2027, 3, 10), first_of_month, dt.date(2027, 4, 1)),
        (dt.date(2027, 3, 1), first_of_month, dt.date(2027, 4, 1)),  # today's is not the next
        (dt.date(2027, 12, 20), first_of_month, dt.date(2028, 1, 1)),
        (dt.date(2027, 2, 10), thirty_first, dt.date(2027, 3, 31)),  # February has none
        (dt.date(2027, 1, 10), quarterly_first_monday, dt.date(2027, 4, 5)),
    ],
)
def test_the_next_day_a_schedule_runs_on(today, days, expected):
    assert next_day_matching(today, days) == expected


def test_a_schedule_that_never_runs_has_no_next_day():
    assert next_day_matching(dt.date(2027, 1, 1), lambda day: day.month == 2 and day.day == 30) is None
