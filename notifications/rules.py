"""The notifications' rules as plain arithmetic on times (no database): quiet hours, the program's
day, the next day a schedule runs on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable


def quiet_until(local_now: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime | None:
    """When the quiet hours [start, end) that `local_now` (aware, in the program's zone) falls in
    end, or None outside them. Quiet hours may run over midnight (21:00 to 08:00); equal start and
    end mean none."""
    if start == end:
        return None
    now = local_now.time().replace(tzinfo=None)
    if start < end:
        inside, end_day = start <= now < end, local_now.date()
    else:
        inside = now >= start or now < end
        end_day = local_now.date() + dt.timedelta(days=1) if now >= start else local_now.date()
    if not inside:
        return None
    return dt.datetime.combine(end_day, end, tzinfo=local_now.tzinfo)


def day_bounds(local_now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The program's day `local_now` is in: [its midnight, the next midnight)."""
    start = dt.datetime.combine(local_now.date(), dt.time(0), tzinfo=local_now.tzinfo)
    return start, dt.datetime.combine(local_now.date() + dt.timedelta(days=1), dt.time(0), tzinfo=local_now.tzinfo)


def next_day_matching(after: dt.date, matches: Callable[[dt.date], bool], *, horizon: int = 400) -> dt.date | None:
    """The first day after `after` that `matches` (a schedule's days), within `horizon` days."""
    for ahead in range(1, horizon + 1):
        day = after + dt.timedelta(days=ahead)
        if matches(day):
            return day
    return None
