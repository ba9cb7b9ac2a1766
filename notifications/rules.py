"""The notifications' rules as plain arithmetic on times (no database): quiet hours, the program's
day, the date of the next tier recalculation."""

from __future__ import annotations

import datetime as dt


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


def next_recalculation(today: dt.date, day_of_month: int) -> dt.date:
    """The next date (after today) that is the recalculation's day of the month."""
    candidate = today.replace(day=day_of_month) if day_of_month <= 28 else today.replace(day=28)
    if candidate <= today:
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        candidate = dt.date(year, month, min(day_of_month, 28))
    return candidate
