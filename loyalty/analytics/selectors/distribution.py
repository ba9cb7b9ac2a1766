from __future__ import annotations

from django.db.models import Count

from loyalty.analytics.distribution import TierCount
from loyalty.config import current_config

from .sql import population


def tier_counts() -> list[TierCount]:
    """Members per tier of the ladder (closed members left out), lowest first, empty tiers too."""
    counts = dict(population().values_list("tier_id").annotate(n=Count("id")).values_list("tier_id", "n"))
    return [TierCount(t.code, t.name, t.rank, t.threshold, counts.get(t.pk, 0)) for t in current_config().ladder]
