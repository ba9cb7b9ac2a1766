"""The scheduled jobs' work for one chunk of members (first_id <= member id <= last_id), as
set-based SQL: INSERT ... SELECT for ledger entries, UPDATE ... FROM for lots,
cached balances and tiers. The statements run in the caller's transaction after locking the rows of
the members they will change, the same lock every service takes, so a job and a storefront never
interleave on one member. They give the same results as the per-member building blocks in the services."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from loyalty.calculations import DOWNGRADE_NEVER, DOWNGRADE_ONE_TIER, DOWNGRADE_TO_QUALIFYING
from loyalty.config import current_config
from loyalty.extensions import ChunkResult
from loyalty.models import Tier
from loyalty.reason_codes import Reason
from loyalty.reasons import reason_fields
from members.outbox import change_and_publish, json_object

from . import ledger


def _params(first_id: int, last_id: int, as_of: datetime, **extra) -> dict:
    adapt = connection.ops.adapt_datetimefield_value
    return {"first": first_id, "last": last_id, "as_of": adapt(as_of), "now": adapt(timezone.now()), **extra}


def lock_members(cursor, first_id: int, last_id: int) -> None:
    """Row-lock all of the chunk's members in id order (services lock one member, so no deadlock),
    for jobs that change most of them or whose candidates take as long to find as to change."""
    if connection.features.has_select_for_update:
        cursor.execute(
            "SELECT id FROM members_member WHERE id BETWEEN %(first)s AND %(last)s ORDER BY id FOR UPDATE",
            {"first": first_id, "last": last_id},
        )


def lock_affected(cursor, candidates: str, params: dict) -> str | None:
    """Row-lock, in id order, the chunk's members that `candidates` (SQL selecting member ids) says
    the job will change, and return the condition on `member_id` that keeps the job's statements to
    them; None when there is nothing to do. Locking only those members, not the whole id range,
    spares the row-lock writes on members the job leaves alone (most of them, on most nights).

    The statements re-check their own conditions under the lock: a member who stopped qualifying
    meanwhile is left alone, and one who started to is the next run's. SQLite has no row locks; its
    single writer serialises the chunk with everything else."""
    if not connection.features.has_select_for_update:
        return "BETWEEN %(first)s AND %(last)s"
    cursor.execute(
        f"""SELECT id FROM members_member
            WHERE id BETWEEN %(first)s AND %(last)s AND id IN ({candidates}) ORDER BY id FOR UPDATE""",
        params,
    )
    params["locked"] = [row[0] for row in cursor.fetchall()]
    return "= ANY(%(locked)s)" if params["locked"] else None


def release_pending_points(first_id: int, last_id: int, as_of: datetime) -> ChunkResult:
    due = """FROM loyalty_pointsentry
             WHERE member_id BETWEEN %(first)s AND %(last)s AND amount > 0
               AND released_at IS NULL AND available_at <= %(as_of)s"""
    with connection.cursor() as cursor:
        params = _params(first_id, last_id, as_of)
        scope = lock_affected(cursor, f"SELECT member_id {due}", params)
        if scope is None:
            return ChunkResult(members_changed=0, entries_written=0)
        due += f" AND member_id {scope}"
        cursor.execute(
            f"""UPDATE members_member
                SET points_pending = points_pending - due.points,
                    points_available = points_available + due.points, updated_at = %(now)s
                FROM (SELECT member_id, SUM(remaining) AS points {due} GROUP BY member_id) AS due
                WHERE members_member.id = due.member_id""",
            params,
        )
        members = cursor.rowcount
        cursor.execute(f"UPDATE loyalty_pointsentry SET released_at = %(as_of)s WHERE id IN (SELECT id {due})", params)
    return ChunkResult(members_changed=members, entries_written=0)


def _expire(entry_table: str, reason: Reason, balance_sql: str, extra_columns: str, extra_values: str, event_type: str):
    """The domain event per member is the per-member service's (points.expired, growth.changed)."""
    # Growth has no pending state: every growth lot counts as released.
    is_points = entry_table == "loyalty_pointsentry"
    released = "lot.released_at IS NOT NULL" if is_points else "1 = 1"
    due = "lot.member_id BETWEEN %(first)s AND %(last)s AND lot.remaining > 0 AND lot.expires_at <= %(as_of)s"

    def expire(first_id: int, last_id: int, as_of: datetime) -> ChunkResult:
        published = json_object(points="expired") if is_points else json_object(growth="-expired", kind="'expire'")
        with connection.cursor() as cursor:
            written = reason_fields(reason)
            params = _params(
                first_id,
                last_id,
                as_of,
                reason=written["reason"],
                reason_code=written["reason_code"],
                event_type=event_type,
            )
            scope = lock_affected(cursor, f"SELECT lot.member_id FROM {entry_table} AS lot WHERE {due}", params)
            if scope is None:
                return ChunkResult(members_changed=0, entries_written=0)
            overdue = f"{due} AND lot.member_id {scope}"
            cursor.execute(
                f"""INSERT INTO {entry_table} (member_id, kind, amount, remaining, expires_at, expired_lot_id,
                                               event_id, rule_id, actor_id, reason, reason_code, created_at,
                                               recorded_at {extra_columns})
                    SELECT lot.member_id, 'expire', -lot.remaining, NULL, NULL, lot.id, NULL, NULL, NULL,
                           %(reason)s, %(reason_code)s, %(as_of)s, %(now)s {extra_values}
                    FROM {entry_table} AS lot WHERE {overdue}""",
                params,
            )
            entries = cursor.rowcount
            members = change_and_publish(
                change=f"""UPDATE members_member SET {balance_sql}, updated_at = %(now)s
                           FROM (SELECT lot.member_id,
                                        SUM(CASE WHEN {released} THEN lot.remaining ELSE 0 END) AS released,
                                        SUM(CASE WHEN {released} THEN 0 ELSE lot.remaining END) AS held
                                 FROM {entry_table} AS lot WHERE {overdue} GROUP BY lot.member_id) AS gone
                           WHERE members_member.id = gone.member_id""",
                returning="""members_member.id AS member_id, members_member.external_id AS external_id,
                             gone.released + gone.held AS expired""",
                portable_changed=f"""SELECT lot.member_id AS member_id, '' AS external_id, SUM(lot.remaining) AS expired
                                     FROM {entry_table} AS lot WHERE {overdue} GROUP BY lot.member_id""",
                events=f"""SELECT member_id, %(event_type)s AS type, %(as_of)s AS occurred_at, {published} AS payload,
                                  external_id, 0 AS ord
                           FROM changed""",
                params=params,
            )
            cursor.execute(
                f"UPDATE {entry_table} SET remaining = 0 WHERE id IN (SELECT lot.id FROM {entry_table} AS lot "
                f"WHERE {overdue})",
                params,
            )
        return ChunkResult(members_changed=members, entries_written=entries)

    return expire


expire_points = _expire(
    "loyalty_pointsentry",
    ledger.POINTS_EXPIRED,
    "points_available = points_available - gone.released, points_pending = points_pending - gone.held",
    ", available_at, released_at, refunded_spend_id, source, reference",
    ", NULL, NULL, NULL, '', ''",
    "points.expired",
)
expire_growth = _expire(
    "loyalty_growthentry",
    ledger.GROWTH_EXPIRED,
    "growth_value = growth_value - gone.released - gone.held",
    "",
    "",
    "growth.changed",
)


def target_tier_sql(ladder: list[Tier], policy: str, growth: str = "m.growth_value") -> str:
    """SQL for the tier id a recalculation gives member `m` (current tier `t`) whose growth value is
    `growth` (an SQL expression: by default the member's now; the notifications' tier-at-risk notice
    passes the growth value left on the recalculation's day)."""
    qualifying = (
        "CASE "
        + " ".join(f"WHEN ({growth}) >= {tier.threshold} THEN {tier.rank}" for tier in reversed(ladder))
        + f" ELSE {ladder[0].rank} END"
    )
    if policy == DOWNGRADE_TO_QUALIFYING:
        target_rank = qualifying
    elif policy == DOWNGRADE_NEVER:
        target_rank = f"CASE WHEN ({qualifying}) > t.rank THEN ({qualifying}) ELSE t.rank END"
    elif policy == DOWNGRADE_ONE_TIER:
        one_below = (
            "CASE t.rank "
            + " ".join(f"WHEN {upper.rank} THEN {lower.rank}" for lower, upper in zip(ladder, ladder[1:], strict=False))
            + " ELSE t.rank END"
        )
        target_rank = f"CASE WHEN ({qualifying}) >= t.rank THEN ({qualifying}) ELSE {one_below} END"
    else:
        raise ValueError(f"Unknown downgrade policy {policy!r}")
    return "CASE (" + target_rank + ") " + " ".join(f"WHEN {tier.rank} THEN {tier.pk}" for tier in ladder) + " END"


def recalculate_tiers(
    first_id: int, last_id: int, as_of: datetime, *, period: str, policy: str, note: str
) -> ChunkResult:
    """`note` must be unique to the run: it is how the UPDATE finds the changes this run just recorded."""
    target = target_tier_sql(list(current_config().ladder), policy)
    # NOT IN over the chunk's own changes, hashed once: as NOT EXISTS, PostgreSQL underestimated the
    # period's fresh rows and compared every member with every change so far (20 s a chunk at 1M).
    moving = f"""FROM members_member AS m JOIN loyalty_tier AS t ON t.id = m.tier_id
                 WHERE m.id BETWEEN %(first)s AND %(last)s AND ({target}) <> m.tier_id
                   AND m.id NOT IN (SELECT done.member_id FROM loyalty_tierchange AS done
                                    WHERE done.period = %(period)s AND done.member_id BETWEEN %(first)s AND %(last)s)"""
    with connection.cursor() as cursor:
        params = _params(first_id, last_id, as_of, period=period, note=note)
        scope = lock_affected(cursor, f"SELECT m.id {moving}", params)
        if scope is None:
            return ChunkResult(members_changed=0, entries_written=0)
        cursor.execute(
            f"""INSERT INTO loyalty_tierchange (member_id, from_tier_id, to_tier_id, reason, event_id, actor_id,
                                                period, growth_value, note, created_at)
                SELECT m.id, m.tier_id, {target}, 'recalculation', NULL, NULL, %(period)s, m.growth_value, %(note)s,
                       %(as_of)s
                {moving} AND m.id {scope}""",
            params,
        )
        entries = cursor.rowcount
        mine = """change.period = %(period)s AND change.reason = 'recalculation' AND change.note = %(note)s
                  AND change.member_id BETWEEN %(first)s AND %(last)s"""
        moved = json_object(**{"from": "earlier.code", "to": "later.code", "reason": "'recalculation'"})
        members = change_and_publish(
            change=f"""UPDATE members_member
                       SET tier_id = change.to_tier_id, tier_since = %(as_of)s, updated_at = %(now)s
                       FROM loyalty_tierchange AS change
                       WHERE change.member_id = members_member.id AND {mine}
                         AND members_member.id BETWEEN %(first)s AND %(last)s""",
            returning="""members_member.id AS member_id, members_member.external_id AS external_id,
                         change.from_tier_id AS from_tier_id, change.to_tier_id AS to_tier_id""",
            portable_changed=f"""SELECT change.member_id AS member_id, '' AS external_id,
                                        change.from_tier_id AS from_tier_id, change.to_tier_id AS to_tier_id
                                 FROM loyalty_tierchange AS change WHERE {mine}""",
            # Each pair of tiers' type and payload made once (MATERIALIZED), not once per member who
            # moved: a third of a second of the night's 404,000 moves at a million members.
            events=f"""WITH move AS MATERIALIZED (
                           SELECT earlier.id AS from_tier_id, later.id AS to_tier_id,
                                  CASE WHEN later.rank > earlier.rank THEN 'tier.upgraded'
                                       ELSE 'tier.downgraded' END AS type,
                                  {moved} AS payload
                           FROM loyalty_tier AS earlier CROSS JOIN loyalty_tier AS later)
                       SELECT changed.member_id AS member_id, move.type AS type, %(as_of)s AS occurred_at,
                              move.payload AS payload, changed.external_id AS external_id, 0 AS ord
                       FROM changed
                       JOIN move
                         ON move.from_tier_id = changed.from_tier_id AND move.to_tier_id = changed.to_tier_id""",
            params=params,
        )
    return ChunkResult(members_changed=members, entries_written=entries)
