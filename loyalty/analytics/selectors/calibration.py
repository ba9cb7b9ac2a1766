from __future__ import annotations

from django.db.models import Case, Count, Value, When

from loyalty.analytics.calibration import Histogram
from loyalty.config import current_config

from .sql import population


def growth_histogram() -> Histogram:
    """Members per growth value: one row per distinct value, so any threshold's share is exact."""
    return Histogram.from_counts(
        list(population().values_list("growth_value").annotate(n=Count("id")).values_list("growth_value", "n"))
    )


def tier_movements(thresholds: list[int]) -> dict[tuple[str, str], int]:
    """(current tier code, tier the proposed thresholds qualify for) -> members."""
    ladder = current_config().ladder
    codes = [tier.code for tier in ladder]
    proposed = Case(
        *(
            When(growth_value__gte=threshold, then=Value(rank))
            for rank, threshold in reversed(list(enumerate(thresholds)))
        ),
        default=Value(0),
    )
    rows = population().annotate(proposed=proposed).values_list("tier__code", "proposed").annotate(n=Count("id"))
    return {(current, codes[rank]): n for current, rank, n in rows}
