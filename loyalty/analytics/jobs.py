"""The analytics' scheduled job: the report summaries, stored after the night's other jobs."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from loyalty.extensions import Schedule, ScheduledJob
from loyalty.job_summaries import line
from loyalty.models import ProgramSettings
from loyalty.services.report_summaries import prune_report_summaries, store_report_summaries
from members.models import Member

from .selectors.summaries import SUMMARY_JOB
from .weights import DEFAULT_WEIGHTS_DAYS


def preview_report_summaries(as_of: datetime) -> list[dict]:
    zone = ProgramSettings.current().zone
    return [
        line(
            "report_summaries_to_store",
            days=DEFAULT_WEIGHTS_DAYS,
            as_of=f"{as_of.astimezone(zone):%Y-%m-%d %H:%M %Z}",
            members=Member.objects.count(),
        )
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
