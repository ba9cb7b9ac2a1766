from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from loyalty.analytics.forecast import GrowthProgram, median_of_counts
from loyalty.config import current_config
from loyalty.models import Tier
from loyalty.models.program import GrowthMode

from . import summaries


def growth_program() -> GrowthProgram:
    """The live rules, growth window and ladder, as the forecast needs them."""
    config = current_config()
    settings = config.settings
    return GrowthProgram(
        rules_by_event_type=config.rules_by_event_type,
        growth_window_policy=settings.growth_window_policy,
        growth_window_months=settings.growth_window_months,
        deducts_growth=settings.growth_mode == GrowthMode.TWO_WAY,
        zone=settings.zone,
        ladder=[(tier.code, tier.threshold) for tier in config.ladder],
    )


def observed_climb(as_of: datetime) -> tuple[dict[str, tuple[Decimal, int]], datetime]:
    """Per tier above the lowest: the median whole program days members took from the day they joined
    to first reaching it (or a tier above it, when they skipped it) and how many members did; and the
    moment that is as of. From the latest nightly summary run, or from the tier history when none
    has finished (the history of a million members takes seconds to read)."""
    run = summaries.latest_summary_run(as_of)
    zone = current_config().settings.zone
    rows = summaries.stored_climb(run) if run else summaries.live_climb(zone=zone)
    counts: dict[int, list[tuple[int, int]]] = {}
    for tier_id, took, members in rows:
        counts.setdefault(tier_id, []).append((int(took), int(members)))
    codes = dict(Tier.objects.filter(pk__in=counts).values_list("pk", "code"))
    observed = {}
    for tier_id, days in counts.items():
        median = median_of_counts(days)
        if median is not None:  # every tier listed has members who reached it
            observed[codes[tier_id]] = (median.quantize(Decimal("0.1")), sum(n for _days, n in days))
    return observed, run.as_of if run else as_of
