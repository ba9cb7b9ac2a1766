"""The rewards' scheduled jobs, run by the loyalty job machinery (JobRun per period, member-id chunks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from loyalty.services.bulk import ChunkResult

from . import selectors
from .services import bulk


@dataclass(frozen=True)
class ScheduledJob:
    period_format: str  # strftime of as_of in the program time zone: one run per period
    run_chunk: Callable[..., ChunkResult]  # (first_id, last_id, as_of, *, period, run_id)
    preview: Callable[[datetime], list[str]]  # for run_job --dry-run
    on_finish: Callable[..., None] | None = None  # (*, run) in the transaction that marks a run done


JOBS = {
    "issue_benefits": ScheduledJob("%Y-%m", bulk.issue_monthly_benefits, selectors.preview_monthly_benefits),
    "issue_birthday_gifts": ScheduledJob("%Y-%m-%d", bulk.issue_birthday_gifts, selectors.preview_birthday_gifts),
    "expire_coupons": ScheduledJob("%Y-%m-%d", bulk.expire_coupons, selectors.preview_expire_coupons),
    "release_expired_holds": ScheduledJob("%Y-%m-%dT%H", bulk.release_expired_holds, selectors.preview_expired_holds),
}

# (job, minute, hour, day of month) in the program time zone, for setup_schedules. Benefits follow the
# 04:00 tier recalculation on the 1st, so members get what their new tier gives.
SCHEDULES = [
    ("issue_benefits", "0", "5", "1"),
    ("issue_birthday_gifts", "15", "5", "*"),
    ("expire_coupons", "45", "3", "*"),
    ("release_expired_holds", "10", "*", "*"),
]
