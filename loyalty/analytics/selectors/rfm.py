from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection

from loyalty.analytics.rfm import Cut, QuadrantCell, quadrant_of
from loyalty.job_summaries import line
from loyalty.models import JobRun, ProgramSettings
from members.models import Member

from .sql import elapsed_days, medians, moment


def member_rfm_sql(*, closed: bool, chunk: bool) -> str:
    """Per member: id, tier_id, growth_value, closed, frequency (purchases), monetary (purchases less
    returns, not below 0), last_purchase_at and recency_days (whole days from the last purchase to as_of) over
    the window [%(start)s, %(as_of)s). `chunk` keeps it to members %(first)s..%(last)s; `closed`
    includes closed members. Shared by the report and the nightly job that stores it."""
    members = "m.id BETWEEN %(first)s AND %(last)s" if chunk else "1 = 1"
    events = "e.member_id BETWEEN %(first)s AND %(last)s" if chunk else "1 = 1"
    if not closed:
        members += " AND m.status <> 'closed'"
    return f"""SELECT m.id AS member_id, m.tier_id, m.growth_value, (m.status = 'closed') AS closed,
                      COALESCE(p.frequency, 0) AS frequency,
                      CASE WHEN p.monetary > 0 THEN p.monetary ELSE 0 END AS monetary,
                      p.last_purchase_at,
                      CAST(FLOOR({elapsed_days("%(as_of)s", "p.last_purchase_at")}) AS INTEGER) AS recency_days
               FROM members_member AS m
               LEFT JOIN (SELECT e.member_id,
                                 SUM(CASE WHEN e.event_type_id = 'purchase' THEN 1 ELSE 0 END) AS frequency,
                                 SUM(CASE WHEN e.event_type_id = 'purchase' THEN e.amount ELSE -e.amount END)
                                     AS monetary,
                                 MAX(CASE WHEN e.event_type_id = 'purchase' THEN e.occurred_at END) AS last_purchase_at
                          FROM loyalty_event AS e
                          WHERE e.event_type_id IN ('purchase', 'return') AND {events}
                            AND e.occurred_at >= %(start)s AND e.occurred_at < %(as_of)s
                          GROUP BY e.member_id) AS p ON p.member_id = m.id
               WHERE {members}"""


def stored_rfm_sql() -> str:
    """The same columns as member_rfm_sql, from the nightly store (loyalty_memberrfm) alone: the
    members, tiers and growth values as they were at the store's as_of, like their F, M and R."""
    return """SELECT s.member_id, s.tier_id, s.growth_value, s.closed, s.frequency, s.monetary, s.last_purchase_at,
                     s.recency_days
              FROM loyalty_memberrfm AS s
              WHERE NOT s.closed"""


def stored_rfm_as_of(*, as_of: datetime, window_days: int) -> datetime | None:
    """The as_of of the store_member_rfm run of as_of's program day when it is done and kept this
    window; None otherwise (then the report computes from the events)."""
    from loyalty.services.jobs import period_key  # the job machinery reads the registered jobs, RFM's too

    if window_days != settings.LOYALTY_RFM_WINDOW_DAYS:
        return None
    run = JobRun.objects.filter(
        job="store_member_rfm", period=period_key("store_member_rfm", as_of), status=JobRun.Status.DONE
    ).first()
    return run.as_of if run else None


def preview_store_rfm(as_of: datetime) -> list[dict]:
    zone = ProgramSettings.current().zone
    return [
        line(
            "rfm_to_store",
            days=settings.LOYALTY_RFM_WINDOW_DAYS,
            as_of=f"{as_of.astimezone(zone):%Y-%m-%d %H:%M %Z}",
            members=Member.objects.count(),
        )
    ]


def window_params(as_of: datetime, window_days: int) -> dict:
    return {"start": moment(as_of - timedelta(days=window_days)), "as_of": moment(as_of)}


def quadrant_cells(
    *,
    as_of: datetime,
    window_days: int,
    cut_frequency: Decimal | None = None,
    cut_monetary: Decimal | None = None,
    stored: bool = False,
) -> tuple[Cut, list[QuadrantCell]]:
    """The cut (the medians over the counted members unless both values are given) and the sums per
    (quadrant, tier), in one statement, from the events of the window or (`stored`) from the store."""
    operator_cut = cut_frequency is not None and cut_monetary is not None
    cut = (
        "SELECT CAST(%(cut_f)s AS NUMERIC) AS frequency, CAST(%(cut_m)s AS NUMERIC) AS monetary"
        if operator_cut
        else medians("SELECT frequency, monetary FROM rfm", ["frequency", "monetary"])
    )
    params = {**window_params(as_of, window_days), "cut_f": cut_frequency, "cut_m": cut_monetary}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH rfm AS ({stored_rfm_sql() if stored else member_rfm_sql(closed=False, chunk=False)}),
                     cut AS ({cut})
                SELECT CASE WHEN rfm.monetary > COALESCE(cut.monetary, 0) THEN 1 ELSE 0 END AS high_spend,
                       CASE WHEN rfm.frequency > COALESCE(cut.frequency, 0) THEN 1 ELSE 0 END AS high_frequency,
                       tier.code, COUNT(*), SUM(rfm.growth_value), SUM(rfm.frequency), ROUND(SUM(rfm.monetary), 2),
                       COALESCE(SUM(rfm.recency_days), 0), COUNT(rfm.recency_days),
                       MAX(cut.frequency), MAX(cut.monetary)
                FROM rfm CROSS JOIN cut JOIN loyalty_tier AS tier ON tier.id = rfm.tier_id
                GROUP BY 1, 2, tier.code""",
            params,
        )
        rows = cursor.fetchall()
        if not rows and not operator_cut:
            return Cut(Decimal(0), Decimal(0), "median"), []
    cells = [
        QuadrantCell(
            quadrant_of(high_spend=bool(high_spend), high_frequency=bool(high_frequency)),
            tier,
            members,
            int(growth),
            int(frequency),
            _money(monetary),
            int(recency),
            buyers,
        )
        for high_spend, high_frequency, tier, members, growth, frequency, monetary, recency, buyers, _f, _m in rows
    ]
    first = rows[0] if rows else (None,) * 11
    frequency_cut = cut_frequency if operator_cut else first[9]
    monetary_cut = cut_monetary if operator_cut else first[10]
    return Cut(_money(frequency_cut), _money(monetary_cut), "operator" if operator_cut else "median"), cells


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))
