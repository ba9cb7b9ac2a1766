"""The scheduled notices, as set-based jobs on the engine's job machinery (loyalty.extensions.jobs):
each chunk of members is one SQL statement that writes a domain event per member (or coupon) to be
told, never a Python loop over the members; the outbox subscriber then makes the notifications.

- `notify_tier_at_risk` (daily, 10:00): on the day `at_risk_days` before the tier recalculation
  (as beat schedules it), tier.at_risk for each member the recalculation would move down, from the
  recalculation's own SQL (loyalty.services.bulk.target_tier_sql) over the growth value left on
  that day.
- `notify_points_expiring` (monthly on the 1st, 10:00): points.expiring, the points that expire
  before the next digest has gone out (a month and a day: no lot falls between two digests), per
  last day of use in the program's time zone.

The events' time is when the job wrote them (a run for an earlier `--as-of`, caught up later, is
news today); `as_of` says what they are about.
- `notify_coupons_expiring` (daily, 10:00): coupon.expiring for each active coupon whose last day
  of validity is three days away."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import datetime, timedelta

from celery.schedules import crontab
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.models import PeriodicTask

from loyalty import extensions, job_summaries
from loyalty.config import current_config
from loyalty.extensions import ChunkResult, Schedule, ScheduledJob
from loyalty.services.bulk import lock_affected, target_tier_sql
from loyalty.services.tiers import RECALCULATION_JOB
from members.outbox import json_object, publish_selected

from . import rules
from .models import NotificationSettings

COUPON_DAYS_AHEAD = 3
_EVERY_MEMBER = (0, 2**63 - 1)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _params(first_id: int, last_id: int, as_of: datetime, **extra) -> dict:
    adapt = connection.ops.adapt_datetimefield_value
    return {
        "first": first_id,
        "last": last_id,
        "as_of": adapt(as_of),
        "written": adapt(timezone.now()),
        **{k: adapt(v) if isinstance(v, datetime) else v for k, v in extra.items()},
    }


def _json_moment(expression: str) -> str:
    """A timestamp as an RFC 3339 string in a JSON payload (PostgreSQL's jsonb writes it so itself)."""
    return expression if _postgres() else f"strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', {expression})"


def _last_day(expiry: str) -> str:
    """SQL for the last day a lot expiring at `expiry` can be used, in the program's time zone: a lot
    expires at the start of its moment, local midnight, so the day before (%(zone)s on PostgreSQL;
    SQLite, the demo's, has no zones: %(offset)s, the zone's offset now)."""
    if _postgres():
        return f"CAST((({expiry} - interval '1 microsecond') AT TIME ZONE %(zone)s)::date AS text)"
    return f"date({expiry}, '-1 seconds', %(offset)s)"


def _zone_params(as_of: datetime) -> dict:
    zone = current_config().settings.zone
    offset = timezone.localtime(as_of, zone).utcoffset() or timedelta(0)
    return {"zone": str(zone), "offset": f"{int(offset.total_seconds() // 60):+d} minutes"}


def _run(first_id: int, last_id: int, params: dict, candidates: str, happened: Callable[[str], str]) -> ChunkResult:
    """Lock the chunk's members `candidates` selects (as every publisher holds its member's lock),
    then publish the rows of `happened(condition on m.id)`."""
    with connection.cursor() as cursor:
        scope = lock_affected(cursor, candidates, params)
    if scope is None:
        return ChunkResult(members_changed=0, entries_written=0)
    return ChunkResult(members_changed=0, entries_written=publish_selected(happened=happened(scope), params=params))


def _count(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS found", params)
        return cursor.fetchone()[0]


# --- tier at risk ----------------------------------------------------------------------------------


def _recalculation_days() -> Callable[[dt.date], bool] | None:
    """Which days beat runs the tier recalculation on, by its crontab (which may have been edited
    in the admin; before `setup_schedules`, the job's own); None when it does not run (disabled, or
    not on a crontab)."""
    task = PeriodicTask.objects.filter(name=f"loyalty: {RECALCULATION_JOB}").select_related("crontab").first()
    if task is not None:
        if not task.enabled or task.crontab is None:
            return None
        schedule = task.crontab.schedule
    else:
        own = extensions.jobs[RECALCULATION_JOB].schedule
        if own is None:
            return None
        schedule = crontab(minute=own.minute, hour=own.hour, day_of_month=own.day_of_month)
    return lambda day: (
        day.day in schedule.day_of_month
        and day.month in schedule.month_of_year
        and day.isoweekday() % 7 in schedule.day_of_week  # celery counts from Sunday, 0
    )


def _recalculation_day(as_of: datetime) -> dt.date | None:
    """The next recalculation's date after `as_of`'s day (None: none scheduled)."""
    days = _recalculation_days()
    if days is None:
        return None
    return rules.next_day_matching(timezone.localtime(as_of, current_config().settings.zone).date(), days)


def _at_risk(first_id: int, last_id: int, as_of: datetime) -> tuple[dict, str, Callable[[str], str]] | None:
    """The members whom the recalculation `at_risk_days` from `as_of` would move down; None on any
    other day."""
    config = current_config()
    day = _recalculation_day(as_of)
    today = timezone.localtime(as_of, config.settings.zone).date()
    if day is None or (day - today).days != NotificationSettings.current().at_risk_days:
        return None
    moment = datetime.combine(day, dt.time(0), tzinfo=config.settings.zone)
    params = _params(first_id, last_id, as_of, recalculation=moment, on=day.isoformat())
    # The growth value left on the day: what the member has, less the lots that expire before it
    # (worked out once per member, in one pass over the chunk's open lots).
    target = target_tier_sql(list(config.ladder), config.settings.downgrade_policy, "left_then.growth")
    moving = f"""FROM members_member AS m JOIN loyalty_tier AS t ON t.id = m.tier_id
                 JOIN (SELECT kept.id AS member_id, kept.growth_value - COALESCE(SUM(lot.remaining), 0) AS growth
                       FROM members_member AS kept
                       LEFT JOIN loyalty_growthentry AS lot
                         ON lot.member_id = kept.id AND lot.remaining > 0 AND lot.expires_at <= %(recalculation)s
                       WHERE kept.id BETWEEN %(first)s AND %(last)s
                       GROUP BY kept.id, kept.growth_value) AS left_then ON left_then.member_id = m.id
                 JOIN loyalty_tier AS goes
                   ON goes.id = ({target})
                 WHERE m.id BETWEEN %(first)s AND %(last)s AND m.status = 'active' AND goes.rank < t.rank"""
    payload = json_object(
        tier="t.code", to="goes.code", on="CAST(%(on)s AS text)", growth_needed="t.threshold - left_then.growth"
    )

    def happened(scope: str) -> str:
        return f"""SELECT m.id AS member_id, 'tier.at_risk' AS type, %(written)s AS occurred_at, {payload} AS payload,
                          0 AS ord
                   {moving} AND m.id {scope}"""

    return params, f"SELECT m.id {moving}", happened


def at_risk_chunk(first_id: int, last_id: int, as_of: datetime, **_run_details) -> ChunkResult:
    found = _at_risk(first_id, last_id, as_of)
    if found is None:
        return ChunkResult(members_changed=0, entries_written=0)
    return _run(first_id, last_id, *found)


def preview_at_risk(as_of: datetime) -> list[dict]:
    found = _at_risk(*_EVERY_MEMBER, as_of)
    if found is None:
        days = _recalculation_days()
        if days is None:
            return [job_summaries.line("recalculation_not_scheduled")]
        return [job_summaries.line("at_risk_not_today", day=_next_notice_day(as_of, days))]
    params, candidates, _happened = found
    return [job_summaries.line("members_at_risk", members=_count(candidates, params))]


# --- points expiring -------------------------------------------------------------------------------


def _next_notice_day(as_of: datetime, days: Callable[[dt.date], bool]) -> str:
    """The next day, from `as_of`'s on, that the tier-at-risk notices go out on."""
    ahead = timedelta(days=NotificationSettings.current().at_risk_days)
    today = timezone.localtime(as_of, current_config().settings.zone).date()
    recalculation = rules.next_day_matching(today, days)
    while recalculation is not None and recalculation - ahead < today:  # its notices went out already
        recalculation = rules.next_day_matching(recalculation, days)
    return (recalculation - ahead).isoformat() if recalculation is not None else "—"


def digest_until(as_of: datetime) -> datetime:
    """The end of a points digest's window: the end of the day after the next digest's day (the 1st
    of next month), so that every lot expiring before the next digest reaches the members is in this
    one; a lot expiring on that 1st is in both."""
    zone = current_config().settings.zone
    first_next = (timezone.localtime(as_of, zone).date().replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(first_next + timedelta(days=1), dt.time(0), tzinfo=zone)


def _expiring_points(first_id: int, last_id: int, as_of: datetime) -> tuple[dict, str, Callable[[str], str]]:
    params = _params(first_id, last_id, as_of, until=digest_until(as_of), **_zone_params(as_of))
    lots = """FROM loyalty_pointsentry AS lot JOIN members_member AS m ON m.id = lot.member_id
              WHERE lot.member_id BETWEEN %(first)s AND %(last)s AND m.status = 'active'
                AND lot.remaining > 0 AND lot.expires_at > %(as_of)s AND lot.expires_at <= %(until)s"""
    day = json_object(date="d.day", points="d.points")
    days = f"jsonb_agg({day} ORDER BY d.day)" if _postgres() else f"json_group_array(json({day}))"

    def happened(scope: str) -> str:
        return f"""SELECT d.member_id AS member_id, 'points.expiring' AS type, %(written)s AS occurred_at,
                          {json_object(points="SUM(d.points)", lots=days)} AS payload, 0 AS ord
                   FROM (SELECT lot.member_id AS member_id, {_last_day("lot.expires_at")} AS day,
                                SUM(lot.remaining) AS points
                         {lots} AND lot.member_id {scope}
                         GROUP BY lot.member_id, {_last_day("lot.expires_at")}
                         ORDER BY 1, 2) AS d
                   GROUP BY d.member_id"""

    return params, f"SELECT lot.member_id {lots}", happened


def expiring_points_chunk(first_id: int, last_id: int, as_of: datetime, **_run_details) -> ChunkResult:
    return _run(first_id, last_id, *_expiring_points(first_id, last_id, as_of))


def preview_expiring_points(as_of: datetime) -> list[dict]:
    params, candidates, _happened = _expiring_points(*_EVERY_MEMBER, as_of)
    return [
        job_summaries.line("members_points_expiring", members=_count(f"{candidates} GROUP BY lot.member_id", params))
    ]


# --- coupons expiring ------------------------------------------------------------------------------


def _expiring_coupons(first_id: int, last_id: int, as_of: datetime) -> tuple[dict, str, Callable[[str], str]]:
    local = timezone.localtime(as_of, current_config().settings.zone) + timedelta(days=COUPON_DAYS_AHEAD)
    day_start, day_end = rules.day_bounds(local)
    params = _params(first_id, last_id, as_of, day_start=day_start, day_end=day_end)
    coupons = """FROM rewards_coupon AS c JOIN rewards_coupontemplate AS template ON template.id = c.template_id
                 JOIN members_member AS m ON m.id = c.member_id
                 WHERE c.member_id BETWEEN %(first)s AND %(last)s AND c.status = 'active' AND m.status = 'active'
                   AND c.valid_until > %(day_start)s AND c.valid_until <= %(day_end)s"""
    value = "c.value::text" if _postgres() else "printf('%%.2f', c.value)"
    payload = json_object(
        coupon_id="c.id",
        template="template.code",
        kind="c.kind",
        value=value,
        valid_until=_json_moment("c.valid_until"),
    )

    def happened(scope: str) -> str:
        return f"""SELECT c.member_id AS member_id, 'coupon.expiring' AS type, %(written)s AS occurred_at,
                          {payload} AS payload, c.id AS ord
                   {coupons} AND c.member_id {scope}"""

    return params, f"SELECT c.member_id {coupons}", happened


def expiring_coupons_chunk(first_id: int, last_id: int, as_of: datetime, **_run_details) -> ChunkResult:
    return _run(first_id, last_id, *_expiring_coupons(first_id, last_id, as_of))


def preview_expiring_coupons(as_of: datetime) -> list[dict]:
    params, candidates, _happened = _expiring_coupons(*_EVERY_MEMBER, as_of)
    return [job_summaries.line("coupons_expiring", coupons=_count(candidates, params))]


def register() -> None:
    job_summaries.register(
        {
            "at_risk_not_today": lambda p: gettext("Not today: the tier-at-risk notices go out on %(day)s.") % p,
            "recalculation_not_scheduled": lambda p: gettext(
                "The tier recalculation is not scheduled (disabled in beat): no tier-at-risk notices."
            ),
            "members_at_risk": lambda p: (
                ngettext(
                    "%(members)s member would be told their tier is at risk.",
                    "%(members)s members would be told their tier is at risk.",
                    p["members"],
                )
                % p
            ),
            "members_points_expiring": lambda p: (
                ngettext(
                    "%(members)s member would be told of points expiring before the next digest.",
                    "%(members)s members would be told of points expiring before the next digest.",
                    p["members"],
                )
                % p
            ),
            "coupons_expiring": lambda p: (
                ngettext(
                    "%(coupons)s coupon expiring in 3 days would be reminded of.",
                    "%(coupons)s coupons expiring in 3 days would be reminded of.",
                    p["coupons"],
                )
                % p
            ),
        }
    )
    extensions.jobs.register(
        "notify_tier_at_risk",
        ScheduledJob(
            label=_("Tier at risk notices"),
            description=_(
                "Members whom the next tier recalculation would move down are told, the set number of days before it."
            ),
            period_format="%Y-%m-%d",
            run_chunk=at_risk_chunk,
            preview=preview_at_risk,
            schedule=Schedule(minute="0", hour="10"),
        ),
        order=150,
    )
    extensions.jobs.register(
        "notify_points_expiring",
        ScheduledJob(
            label=_("Points expiring digest"),
            description=_(
                "Each member with points that expire before the next digest (the coming month) is told how many, "
                "and until when each can be used."
            ),
            period_format="%Y-%m",
            run_chunk=expiring_points_chunk,
            preview=preview_expiring_points,
            schedule=Schedule(minute="0", hour="10", day_of_month="1"),
        ),
        order=151,
    )
    extensions.jobs.register(
        "notify_coupons_expiring",
        ScheduledJob(
            label=_("Coupons expiring reminders"),
            description=_("Members are reminded of each coupon three days before its last day."),
            period_format="%Y-%m-%d",
            run_chunk=expiring_coupons_chunk,
            preview=preview_expiring_coupons,
            schedule=Schedule(minute="0", hour="10"),
        ),
        order=152,
    )
