"""The nightly report summaries (loyalty.models.summaries): one chunk of members per transaction."""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from loyalty.analytics.selectors.summaries import (
    SUMMARY_JOB,
    climb_sql,
    points_flow_sql,
    rule_use_sql,
    spend_sql,
    summary_params,
    tier_size_sql,
)
from loyalty.extensions import ChunkResult
from loyalty.models import (
    ClimbSummary,
    JobChunk,
    JobRun,
    PointsFlowSummary,
    ProgramSettings,
    RuleUseSummary,
    SpendSummary,
    TierSizeSummary,
)


def store_report_summaries(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """The climb, points flow, spend and weight matrix summaries of members first_id..last_id as of the run's as_of,
    written as rows of this chunk. Reads only: takes no member lock."""
    chunk_id = JobChunk.objects.values_list("pk", flat=True).get(run_id=run_id, first_member_id=first_id)
    params = {
        **summary_params(as_of=as_of, zone=ProgramSettings.current().zone, first_id=first_id, last_id=last_id),
        "chunk": chunk_id,
    }
    written = 0
    with connection.cursor() as cursor:
        for table, columns, select in (
            ("loyalty_climbsummary", "tier_id, days, members", climb_sql(chunk=True)),
            ("loyalty_pointsflowsummary", "month, kind, total", points_flow_sql(chunk=True)),
            ("loyalty_spendsummary", "month, tier_id, spend", spend_sql(chunk=True)),
            ("loyalty_tiersizesummary", "tier_id, members", tier_size_sql()),
            ("loyalty_ruleusesummary", "tier_id, rule_id, members, growth", rule_use_sql()),
        ):
            cursor.execute(
                f"INSERT INTO {table} (chunk_id, {columns}) SELECT %(chunk)s, summary.* FROM ({select}) AS summary",
                params,
            )
            written += cursor.rowcount
    return ChunkResult(members_changed=0, entries_written=written)


def prune_report_summaries(*, run: JobRun) -> None:
    """Once a run is done, the rows of the finished or failed runs before it are never read again
    (the report reads the latest finished run). Called in the transaction that finishes the run."""
    older = JobChunk.objects.filter(
        run__job=SUMMARY_JOB,
        run__dry_run=False,
        run__as_of__lt=run.as_of,
        run__status__in=[JobRun.Status.DONE, JobRun.Status.FAILED],
    )
    for model in (ClimbSummary, PointsFlowSummary, SpendSummary, TierSizeSummary, RuleUseSummary):
        model.objects.filter(chunk__in=older).delete()
