"""What a job would change, for dry runs and `run_job --dry-run`: read-only, whole-table queries,
answered as lines of loyalty.job_summaries (codes with parameters, read in the reader's language)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Sum

from loyalty import extensions
from loyalty.calculations import recalculated_tier
from loyalty.job_summaries import line
from loyalty.models import GrowthEntry, JobRun, PointsEntry, ProgramSettings, Tier
from loyalty.services.jobs import period_key
from loyalty.services.tiers import RECALCULATION_JOB as RECALCULATE_TIERS
from members.models import Member


def preview_job(*, job: str, as_of: datetime) -> list[dict]:
    """What running `job` as of `as_of` would change. A run that already exists for the period is
    resumed with its own as_of, and a finished one changes nothing, so the preview says the same."""
    run = JobRun.objects.filter(job=job, period=period_key(job, as_of), dry_run=False).first()
    if run is not None:
        if run.status == JobRun.Status.DONE:
            zone = ProgramSettings.current().zone
            return [line("already_done", period=run.period, as_of=f"{run.as_of.astimezone(zone):%Y-%m-%d %H:%M %Z}")]
        as_of = run.as_of
    return extensions.jobs[job].preview(as_of)


def preview_release(as_of: datetime) -> list[dict]:
    due = PointsEntry.objects.filter(amount__gt=0, released_at__isnull=True, available_at__lte=as_of)
    totals = due.aggregate(points=Sum("remaining"), members=Count("member", distinct=True))
    return [line("points_to_release", points=totals["points"] or 0, members=totals["members"])]


def preview_expiry(model: type[PointsEntry] | type[GrowthEntry], ledger: str):
    def preview(as_of: datetime) -> list[dict]:
        overdue = model.objects.filter(remaining__gt=0, expires_at__lte=as_of)
        totals = overdue.aggregate(amount=Sum("remaining"), lots=Count("id"), members=Count("member", distinct=True))
        return [
            line(
                "lots_to_expire",
                ledger=ledger,
                amount=totals["amount"] or 0,
                lots=totals["lots"],
                members=totals["members"],
            )
        ]

    return preview


def preview_tier_moves(as_of: datetime) -> list[dict]:
    return _tier_moves(period_key(RECALCULATE_TIERS, as_of))


def _tier_moves(period: str) -> list[dict]:
    """Moves between tiers, counted per (current tier, growth band), leaving out members already
    recalculated for the period: one query per band, then the pure rule."""
    ladder = list(Tier.objects.order_by("rank"))
    policy = ProgramSettings.current().downgrade_policy
    by_id = {tier.pk: tier for tier in ladder}
    moves: dict[tuple[Tier, Tier], int] = {}
    bands = [(tier, nxt.threshold if nxt else None) for tier, nxt in zip(ladder, [*ladder[1:], None], strict=True)]
    for tier, upper in bands:
        members = Member.objects.filter(growth_value__gte=tier.threshold).exclude(tier_changes__period=period)
        if upper is not None:
            members = members.filter(growth_value__lt=upper)
        for current_id, count in members.values_list("tier").annotate(n=Count("id")).values_list("tier", "n"):
            current = by_id[current_id]
            target = recalculated_tier(ladder, current, tier.threshold, policy)
            if target.pk != current.pk:
                moves[(current, target)] = moves.get((current, target), 0) + count
    if not moves:
        return [line("no_tier_moves")]
    return [
        line("tier_moves", count=count, **{"from": source.name, "to": target.name})
        for (source, target), count in sorted(moves.items(), key=lambda move: (move[0][0].rank, move[0][1].rank))
    ]
