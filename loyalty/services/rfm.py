"""The nightly RFM store, one chunk of members at a time (the store_member_rfm job)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection

from loyalty.analytics.selectors.rfm import member_rfm_sql, window_params
from loyalty.extensions import ChunkResult


def store_member_rfm(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """RFM over the LOYALTY_RFM_WINDOW_DAYS before as_of for members first_id..last_id, closed ones
    too, in one upsert. Writes no member row, so it takes no member lock; running a chunk again
    writes the same values, since the run keeps its as_of."""
    window = settings.LOYALTY_RFM_WINDOW_DAYS
    params = {**window_params(as_of, window), "first": first_id, "last": last_id, "window": window, "period": period}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO loyalty_memberrfm (member_id, window_days, frequency, monetary, last_purchase_at,
                                                 recency_days, tier_id, growth_value, closed, period, computed_at)
                SELECT rfm.member_id, %(window)s, rfm.frequency, ROUND(rfm.monetary, 2), rfm.last_purchase_at,
                       rfm.recency_days, rfm.tier_id, rfm.growth_value, rfm.closed, %(period)s, %(as_of)s
                FROM ({member_rfm_sql(closed=True, chunk=True)}) AS rfm
                WHERE 1 = 1
                ON CONFLICT (member_id) DO UPDATE SET
                    window_days = excluded.window_days, frequency = excluded.frequency,
                    monetary = excluded.monetary, last_purchase_at = excluded.last_purchase_at,
                    recency_days = excluded.recency_days, tier_id = excluded.tier_id,
                    growth_value = excluded.growth_value, closed = excluded.closed, period = excluded.period,
                    computed_at = excluded.computed_at""",
            params,
        )
        stored = cursor.rowcount
    return ChunkResult(members_changed=0, entries_written=stored)
