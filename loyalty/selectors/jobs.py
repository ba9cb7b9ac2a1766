"""What a job would change, for `run_job --dry-run`: read-only, whole-table queries."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Sum

from loyalty import extensions
from loyalty.calculations import recalculated_tier
from loyalty.models import GrowthEntry, JobRun, PointsEntry, ProgramSettings, Tier
from loyalty.services.jobs import period_key
from loyalty.services.tiers import RECALCULATION_JOB as RECALCULATE_TIERS
from members.models import Member


def preview_job(*, job: str, as_of: datetime) -> list[str]:
    """What running `job` as of `as_of` would change. A run that already exists for the period is
    resumed with its own as_of, and a finished one changes nothing, so the preview says the same."""
    run = JobRun.objects.filter(job=job, period=period_key(job, as_of), dry_run=False).first()
    if run is not None:
        if run.status == JobRun.Status.DONE:
            return [
                f"{job} is already done for period {run.period} (as of {run.as_of:%Y-%m-%d %H:%M %Z}): "
                "nothing would change."
            ]
        as_of = run.as_of
    return extensions.jobs[job].preview(as_of)


def preview_release(as_of: datetime) -> list[str]:
    due = PointsEntry.objects.filter(amount__gt=0, released_at__isnull=True, available_at__lte=as_of)
    totals = due.aggregate(points=Sum("remaining"), members=Count("member", distinct=True))
    return [f"{totals['points'] or 0} pending points of {totals['members']} members would become available."]


def preview_expiry(model: type[PointsEntry] | type[GrowthEntry], label: str):
    def preview(as_of: datetime) -> list[str]:
        overdue = model.objects.filter(remaining__gt=0, expires_at__lte=as_of)
        totals = overdue.aggregate(amount=Sum("remaining"), lots=Count("id"), members=Count("member", distinct=True))
        return [
            f"{totals['amount'] or 0} {label} in {totals['lots']} lots of {totals['members']} members would expire."
        ]

    return preview


def preview_tier_moves(as_of: datetime) -> list[str]:
    return _tier_moves(period_key(RECALCULATE_TIERS, as_of))


def _tier_moves(period: str) -> list[str]:
    """Moves between tiers, counted per (current tier, growth band), leaving out members already
    recalculated for the period: one query per band, then the pure rule."""
    ladder = list(Tier.objects.order_by("rank"))
    policy = ProgramSettings.current().downgrade_policy
    by_id = {tier.pk: tier for tier in ladder}
    moves: dict[tuple[str, str], int] = {}
    bands = [(tier, nxt.threshold if nxt else None) for tier, nxt in zip(ladder, [*ladder[1:], None], strict=True)]
    for tier, upper in bands:
        members = Member.objects.filter(growth_value__gte=tier.threshold).exclude(tier_changes__period=period)
        if upper is not None:
            members = members.filter(growth_value__lt=upper)
        for current_id, count in members.values_list("tier").annotate(n=Count("id")).values_list("tier", "n"):
            current = by_id[current_id]
            target = recalculated_tier(ladder, current, tier.threshold, policy)
            if target.pk != current.pk:
                moves[(current.code, target.code)] = moves.get((current.code, target.code), 0) + count
    if not moves:
        return ["No member would change tier."]
    return [f"{count} members would move {source} -> {target}." for (source, target), count in sorted(moves.items())]
