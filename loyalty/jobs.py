"""The engine's scheduled jobs, registered like every app's (loyalty.extensions.jobs): the night runs
release -> expire points -> expire growth, tiers are recalculated on the 1st, and the report
summaries are stored after the other apps' night jobs."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from loyalty import extensions
from loyalty.extensions import ChunkResult, Schedule, ScheduledJob
from loyalty.models import GrowthEntry, PointsEntry, ProgramSettings
from loyalty.services import bulk
from loyalty.services.tiers import RECALCULATION_JOB


def _release(first_id: int, last_id: int, as_of: datetime, **_run) -> ChunkResult:
    return bulk.release_pending_points(first_id, last_id, as_of)


def _expire_points(first_id: int, last_id: int, as_of: datetime, **_run) -> ChunkResult:
    return bulk.expire_points(first_id, last_id, as_of)


def _expire_growth(first_id: int, last_id: int, as_of: datetime, **_run) -> ChunkResult:
    return bulk.expire_growth(first_id, last_id, as_of)


def _recalculate(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    policy = ProgramSettings.current().downgrade_policy
    note = f"Scheduled recalculation, job run {run_id}"
    return bulk.recalculate_tiers(first_id, last_id, as_of, period=period, policy=policy, note=note)


def register() -> None:
    from loyalty.analytics.jobs import report_summaries_job
    from loyalty.analytics.selectors.rfm import preview_store_rfm
    from loyalty.selectors import jobs as previews
    from loyalty.services.rfm import store_member_rfm

    extensions.jobs.register(
        "release_pending_points",
        ScheduledJob(
            label=_("Release pending points"),
            description=_("Points of purchases whose return window has passed become spendable."),
            period_format="%Y-%m-%dT%H",
            run_chunk=_release,
            preview=previews.preview_release,
            schedule=Schedule(minute="5", hour="*"),
        ),
        order=10,
    )
    extensions.jobs.register(
        "expire_points",
        ScheduledJob(
            label=_("Expire points"),
            description=_("Points lots past their expiry date expire."),
            period_format="%Y-%m-%d",
            run_chunk=_expire_points,
            preview=previews.preview_expiry(PointsEntry, "points"),
            schedule=Schedule(minute="0", hour="3"),
        ),
        order=20,
    )
    extensions.jobs.register(
        "expire_growth",
        ScheduledJob(
            label=_("Expire growth value"),
            description=_("Growth value lots that left the growth window expire; tiers wait for the recalculation."),
            period_format="%Y-%m-%d",
            run_chunk=_expire_growth,
            preview=previews.preview_expiry(GrowthEntry, "growth"),
            schedule=Schedule(minute="30", hour="3"),
        ),
        order=30,
    )
    extensions.jobs.register(
        RECALCULATION_JOB,
        ScheduledJob(
            label=_("Recalculate tiers"),
            description=_("Every member's tier is set from their growth value under the downgrade policy."),
            period_format="%Y-%m",
            run_chunk=_recalculate,
            preview=previews.preview_tier_moves,
            schedule=Schedule(minute="0", hour="4", day_of_month="1"),
        ),
        order=40,
    )
    extensions.jobs.register(
        "store_member_rfm",
        ScheduledJob(
            label=_("Store members' RFM"),
            description=_(
                "Each member's recency, frequency and spend over the RFM window are stored for reports and targeting."
            ),
            period_format="%Y-%m-%d",
            run_chunk=store_member_rfm,
            preview=preview_store_rfm,
            schedule=Schedule(minute="30", hour="5"),
        ),
        order=90,
    )
    extensions.jobs.register(*report_summaries_job(), order=200)
