"""The analytics' scheduled job, run by the loyalty job machinery (JobRun per period, member-id chunks)."""

from __future__ import annotations

from datetime import datetime

from loyalty.services.report_summaries import prune_report_summaries, store_report_summaries
from members.models import Member
from rewards.jobs import ScheduledJob

from .selectors.summaries import SUMMARY_JOB
from .weights import DEFAULT_WEIGHTS_DAYS


def preview_report_summaries(as_of: datetime) -> list[str]:
    return [
        f"The report summaries (climb to each tier, monthly points flow and spend per tier, the weight "
        f"matrix of the {DEFAULT_WEIGHTS_DAYS} days before) as of "
        f"{as_of:%Y-%m-%d %H:%M %Z} would be stored for {Member.objects.count():,} members."
    ]


JOBS = {
    SUMMARY_JOB: ScheduledJob(
        "%Y-%m-%d", store_report_summaries, preview_report_summaries, on_finish=prune_report_summaries
    )
}

# (job, minute, hour, day of month) in the program time zone: after the night's other jobs.
SCHEDULES = [(SUMMARY_JOB, "45", "5", "*")]
