"""The SQL of the nightly report summaries (loyalty.models.summaries), shared by the job that stores
them per member-id chunk and by the report, which runs the same statements over every member when no
run has finished yet; and the reads that combine a finished run with what was recorded since."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection

from loyalty.analytics.weights import DEFAULT_WEIGHTS_DAYS
from loyalty.models import JobRun

from .sql import days_between, local_date, local_month, moment

SUMMARY_JOB = "store_report_summaries"
# Months before the run's month that a run stores: the economics report's twelve and one to spare.
SUMMARY_MONTHS = 13


def summary_params(*, as_of: datetime, zone, first_id: int | None = None, last_id: int | None = None) -> dict:
    first_month = as_of.astimezone(zone).date().replace(day=1) - relativedelta(months=SUMMARY_MONTHS)
    since = datetime.combine(first_month, datetime.min.time(), tzinfo=zone)
    weights_first, weights_last = stored_weights_period(as_of, zone)
    return {
        "as_of": moment(as_of),
        "since": moment(since),
        "weights_first": weights_first,
        "weights_last": weights_last,
        "zone": str(zone),
        "first": first_id,
        "last": last_id,
    }


def _members(column: str, chunk: bool) -> str:
    return f"{column} BETWEEN %(first)s AND %(last)s" if chunk else "1 = 1"


def _recorded(column: str, recorded: str) -> str:
    """A run stores the rows recorded before its as_of; the report adds those recorded from it on."""
    return {"before": f"{column} < %(as_of)s", "from": f"{column} >= %(as_of)s", "any": "1 = 1"}[recorded]


def climb_sql(*, chunk: bool, recorded: str = "before") -> str:
    """(tier_id, days, members): per tier above the lowest, how many members first reached it (or a
    tier above it, when they skipped it) how many whole program days after the day they joined, from
    the tier changes made before %(as_of)s (`recorded`="any": all of them)."""
    return f"""SELECT tier_id, days, COUNT(*) AS members
               FROM (SELECT target.id AS tier_id,
                            {days_between(local_date("MIN(change.created_at)"), local_date("m.joined_at"))} AS days
                     FROM loyalty_tierchange AS change
                     JOIN loyalty_tier AS got ON got.id = change.to_tier_id
                     JOIN loyalty_tier AS target ON target.rank <= got.rank AND target.threshold > 0
                     JOIN members_member AS m ON m.id = change.member_id
                     WHERE change.reason <> 'enrolment' AND {_recorded("change.created_at", recorded)}
                       AND {_members("change.member_id", chunk)}
                     GROUP BY target.id, change.member_id, m.joined_at) AS firsts
               GROUP BY tier_id, days"""


def points_flow_sql(*, chunk: bool, recorded: str = "before") -> str:
    """(month, kind, total) of the points entries in effect from %(since)s and recorded before
    %(as_of)s (`recorded`: or from it on, or any time), per program month."""
    return f"""SELECT {local_month("p.created_at")} AS month, p.kind, SUM(p.amount) AS total
               FROM loyalty_pointsentry AS p
               WHERE p.created_at >= %(since)s AND {_recorded("p.recorded_at", recorded)}
                 AND {_members("p.member_id", chunk)}
               GROUP BY 1, 2"""


def spend_sql(*, chunk: bool, recorded: str = "before") -> str:
    """(month, tier_id, spend): purchases less returns from %(since)s recorded before %(as_of)s, per
    program month and the tier each event left the member on."""
    return f"""SELECT {local_month("e.occurred_at")} AS month, e.tier_after_id AS tier_id,
                      SUM(CASE WHEN e.event_type_id = 'purchase' THEN e.amount ELSE -e.amount END) AS spend
               FROM loyalty_event AS e
               WHERE e.event_type_id IN ('purchase', 'return') AND e.occurred_at >= %(since)s
                 AND {_recorded("e.recorded_at", recorded)} AND {_members("e.member_id", chunk)}
               GROUP BY 1, 2"""


def stored_weights_period(as_of: datetime, zone) -> tuple[date, date]:
    """The complete program days a run as of `as_of` stores the weight matrix for: the default
    period of DEFAULT_WEIGHTS_DAYS days, ending the day before as_of's day."""
    last_day = as_of.astimezone(zone).date() - timedelta(days=1)
    return last_day - timedelta(days=DEFAULT_WEIGHTS_DAYS - 1), last_day


def tier_size_sql() -> str:
    """(tier_id, members): for every tier, zeros too, the chunk's members on it when the chunk is
    stored, closed ones aside. A row per tier in every chunk tells a run that stored the weight
    matrix whole from one that did not (stored_weights)."""
    return """SELECT t.id AS tier_id, COALESCE(counted.members, 0) AS members
              FROM loyalty_tier AS t
              LEFT JOIN (SELECT m.tier_id, COUNT(*) AS members FROM members_member AS m
                         WHERE m.status <> 'closed' AND m.id BETWEEN %(first)s AND %(last)s
                         GROUP BY 1) AS counted ON counted.tier_id = t.id"""


def rule_use_sql() -> str:
    """(tier_id, rule_id, members, growth): per member's tier (closed members aside) and rule, the
    chunk's distinct members with a hit on a program day from %(weights_first)s to %(weights_last)s,
    of an event recorded before %(as_of)s, and the growth those hits gave."""
    return """SELECT m.tier_id, h.rule_id, COUNT(DISTINCT h.member_id) AS members, SUM(h.growth) AS growth
              FROM loyalty_rulehit AS h
              JOIN members_member AS m ON m.id = h.member_id
              JOIN loyalty_event AS e ON e.id = h.event_id
              WHERE h.local_day BETWEEN %(weights_first)s AND %(weights_last)s AND m.status <> 'closed'
                AND e.recorded_at < %(as_of)s AND h.member_id BETWEEN %(first)s AND %(last)s
              GROUP BY 1, 2"""


def latest_summary_run(as_of: datetime) -> JobRun | None:
    """The latest finished summary run (only its rows are kept), or None when its as_of is after
    `as_of`: a report as of an earlier moment cannot use rows recorded after it."""
    run = JobRun.objects.filter(job=SUMMARY_JOB, status=JobRun.Status.DONE, dry_run=False).order_by("-as_of", "-id")
    latest = run.first()
    return latest if latest and latest.as_of <= as_of else None


def stored_climb(run: JobRun) -> list[tuple[int, int, int]]:
    """(tier_id, days, members) over the run's chunks."""
    return _fetch(
        """SELECT s.tier_id, s.days, SUM(s.members) FROM loyalty_climbsummary AS s
           JOIN loyalty_jobchunk AS c ON c.id = s.chunk_id WHERE c.run_id = %(run)s GROUP BY 1, 2""",
        {"run": run.pk},
    )


def stored_weights(run: JobRun) -> tuple[dict[str, int], list[tuple[str, str, int, int]]] | None:
    """The run's weight matrix inputs over its chunks: members per tier code, and (tier code, rule
    code, members, growth); None unless every chunk stored them (a run finished by workers that
    predate them, or resumed by such workers, is read from the rule hits instead)."""
    sizes = _fetch(
        """SELECT t.code, SUM(s.members), COUNT(DISTINCT s.chunk_id) FROM loyalty_tiersizesummary AS s
           JOIN loyalty_jobchunk AS c ON c.id = s.chunk_id JOIN loyalty_tier AS t ON t.id = s.tier_id
           WHERE c.run_id = %(run)s GROUP BY 1""",
        {"run": run.pk},
    )
    if not sizes or any(chunks != run.chunks_total for _code, _members, chunks in sizes):
        return None
    uses = _fetch(
        """SELECT t.code, r.code, SUM(s.members), SUM(s.growth) FROM loyalty_ruleusesummary AS s
           JOIN loyalty_jobchunk AS c ON c.id = s.chunk_id JOIN loyalty_tier AS t ON t.id = s.tier_id
           JOIN loyalty_earningrule AS r ON r.id = s.rule_id
           WHERE c.run_id = %(run)s GROUP BY 1, 2""",
        {"run": run.pk},
    )
    return {code: int(members) for code, members, _chunks in sizes}, [
        (tier, rule, int(members), int(growth)) for tier, rule, members, growth in uses
    ]


def live_climb(*, zone) -> list[tuple[int, int, int]]:
    return _fetch(climb_sql(chunk=False, recorded="any"), {"zone": str(zone)})


def points_flow(*, since: datetime, zone, run: JobRun | None) -> list[tuple[date, str, int]]:
    """(month, kind, total) of the points entries in effect from `since`: the run's totals plus the
    entries recorded since its as_of, or all from the ledger when there is no run."""
    return _stored_plus_live(
        run,
        since,
        zone,
        stored=_stored_sql("loyalty_pointsflowsummary", "kind", "total"),
        live=points_flow_sql,
    )


def spend(*, since: datetime, zone, run: JobRun | None) -> list[tuple[date, int | None, object]]:
    """(month, tier_id, spend) from `since`, combined as points_flow is."""
    return _stored_plus_live(
        run,
        since,
        zone,
        stored=_stored_sql("loyalty_spendsummary", "tier_id", "spend"),
        live=spend_sql,
    )


def _stored_sql(table: str, key: str, value: str) -> str:
    """(month, key, summed value) over the chunks of run %(run)s, from %(first_month)s on."""
    return f"""SELECT s.month, s.{key}, SUM(s.{value}) FROM {table} AS s
               JOIN loyalty_jobchunk AS c ON c.id = s.chunk_id
               WHERE c.run_id = %(run)s AND s.month >= %(first_month)s GROUP BY 1, 2"""


def _stored_plus_live(run: JobRun | None, since: datetime, zone, *, stored: str, live) -> list[tuple]:
    params = {"since": moment(since), "zone": str(zone)}
    if run is None:
        return _sum_rows(_fetch(live(chunk=False, recorded="any"), params))
    rows = _fetch(stored, {"run": run.pk, "first_month": since.astimezone(zone).date()})
    recorded_since = _fetch(live(chunk=False, recorded="from"), {**params, "as_of": moment(run.as_of)})
    return _sum_rows(rows + recorded_since)


def _sum_rows(rows: list[tuple]) -> list[tuple]:
    totals: dict[tuple, Any] = {}
    for month, key, value in rows:
        month = _as_date(month)
        totals[(month, key)] = totals.get((month, key), 0) + (value or 0)
    return [(month, key, value) for (month, key), value in totals.items()]


def _fetch(statement: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [tuple(row) for row in cursor.fetchall()]


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value
