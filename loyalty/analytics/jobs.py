"""The analytics' scheduled job: the report summaries, stored after the night's other jobs."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from loyalty.extensions import Schedule, ScheduledJob
from loyalty.services.report_summaries import prune_report_summaries, store_report_summaries
from members.models import Member

from .selectors.summaries import SUMMARY_JOB
from .weights import DEFAULT_WEIGHTS_DAYS


def preview_report_summaries(as_of: datetime) -> list[str]:
    return [
        f"The report summaries (climb to each tier, monthly points flow and spend per tier, the weight "
        f"matrix of the {DEFAULT_WEIGHTS_DAYS} days before) as of "
        f"{as_of:%Y-%m-%d %H:%M %Z} would be stored for {Member.objects.count():,} members."
    ]


def report_summaries_job() -> tuple[str, ScheduledJob]:
    return SUMMARY_JOB, ScheduledJob(
        label=_("Store report summaries"),
        description=_("The program design reports' totals are stored per member chunk, so the reports stay fast."),
        period_format="%Y-%m-%d",
        run_chunk=store_report_summaries,
        preview=preview_report_summaries,
        schedule=Schedule(minute="45", hour="5"),
        on_finish=prune_report_summaries,
    )
