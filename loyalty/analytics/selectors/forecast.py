from __future__ import annotations

from decimal import Decimal

from django.db import connection

from loyalty.analytics.forecast import GrowthProgram
from loyalty.config import current_config
from loyalty.models.program import GrowthMode

from .sql import elapsed_days, medians_by_group


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


def observed_climb() -> dict[str, tuple[Decimal, int]]:
    """Per tier above the lowest: the median days members took from joining to first reaching it (or
    a tier above it, when they skipped it) and how many members did. From the tier history."""
    reached = f"""SELECT target.code AS grp,
                         {elapsed_days("MIN(change.created_at)", "m.joined_at")} AS value
                  FROM loyalty_tierchange AS change
                  JOIN loyalty_tier AS got ON got.id = change.to_tier_id
                  JOIN loyalty_tier AS target ON target.rank <= got.rank AND target.threshold > 0
                  JOIN members_member AS m ON m.id = change.member_id
                  WHERE change.reason <> 'enrolment'
                  GROUP BY target.code, change.member_id, m.joined_at"""
    with connection.cursor() as cursor:
        cursor.execute(medians_by_group(reached))
        rows = cursor.fetchall()
    return {code: (Decimal(str(days)).quantize(Decimal("0.1")), count) for code, days, count in rows}
