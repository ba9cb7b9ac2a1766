"""A large consistent population for the jobs benchmark, generated inside PostgreSQL.

Every member gets 8 growth lots and 8 points lots earned over the last 18 months (so some are past
their 12-month expiry), 2 of the points lots pending (one due for release), one spend with its
allocation, cached balances and a tier that agree with the ledgers, and tier history. About 20
rows per member. Rows are produced by INSERT ... SELECT over generate_series, which does the work
COPY would without shipping rows through Python."""

from __future__ import annotations

import time

from django.db import connection

from loyalty.models import Tier

LOTS = 8


def _sql(cursor, label: str, statement: str, params=None) -> None:
    started = time.perf_counter()
    cursor.execute(statement, params or [])
    print(f"  {label}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f}s", flush=True)


def generate(members: int, seed: float = 0.42) -> None:
    ladder = list(Tier.objects.order_by("rank"))
    lowest = ladder[0]
    qualifying = (
        "CASE " + " ".join(f"WHEN growth_value >= {t.threshold} THEN {t.pk}" for t in reversed(ladder)) + " END"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        _sql(
            cursor,
            "members",
            """INSERT INTO members_member (id, external_id, name, email, phone, status, joined_at, tier_id, tier_since,
                   growth_value, points_available, points_pending, purchase_count, purchase_amount,
                   created_at, updated_at)
               SELECT i, 'b' || i, 'Member ' || i, '', '', 'active', now() - interval '600 days', %s,
                      now() - interval '600 days', 0, 0, 0, 0, 0, now(), now()
               FROM generate_series(1, %s) AS i""",
            [lowest.pk, members],
        )
        # Long-tailed lot sizes: most members earn little, a few earn a lot.
        lot = f"""FROM (SELECT m, k, (1 + power(random(), 3) * 2500)::int AS amount,
                         now() - (random() * 540) * interval '1 day' AS earned
                  FROM generate_series(1, {members}) AS m, generate_series(1, {LOTS}) AS k) AS draw"""
        _sql(
            cursor,
            "growth lots",
            f"""INSERT INTO loyalty_growthentry (member_id, kind, amount, remaining, expires_at, reason,
                                                  created_at, recorded_at)
                SELECT m, 'earn', amount, amount, earned + interval '12 months', 'bench', earned, earned {lot}""",
        )
        _sql(
            cursor,
            "points lots",
            f"""INSERT INTO loyalty_pointsentry (member_id, kind, amount, remaining, expires_at, reason, created_at,
                                                  recorded_at, available_at, released_at, source, reference)
                SELECT m, 'earn', amount, amount,
                       CASE WHEN k >= 7 THEN now() + interval '11 months' ELSE earned + interval '12 months' END,
                       'k' || k, earned, earned,
                       CASE k WHEN 7 THEN now() - interval '1 day' WHEN 8 THEN now() + interval '3 days'
                              ELSE earned END,
                       CASE WHEN k >= 7 THEN NULL ELSE earned END, '', ''
                {lot}""",
        )
        _sql(
            cursor,
            "spends",
            """INSERT INTO loyalty_pointsentry (member_id, kind, amount, reason, created_at, recorded_at, source,
                                                 reference)
               SELECT member_id, 'spend', -LEAST(amount, 20), 'bench spend', created_at, created_at, 'bench', ''
               FROM loyalty_pointsentry WHERE reason = 'k1'""",
        )
        _sql(
            cursor,
            "spend allocations",
            """INSERT INTO loyalty_pointsallocation (debit_id, lot_id, amount)
               SELECT spend.id, lot.id, -spend.amount
               FROM loyalty_pointsentry AS spend
               JOIN loyalty_pointsentry AS lot ON lot.member_id = spend.member_id AND lot.reason = 'k1'
               WHERE spend.kind = 'spend'""",
        )
        _sql(
            cursor,
            "lots after spends",
            """UPDATE loyalty_pointsentry SET remaining = amount - LEAST(amount, 20) WHERE reason = 'k1'""",
        )
        _sql(
            cursor,
            "cached balances",
            """UPDATE members_member SET growth_value = g.total, points_available = p.available,
                      points_pending = p.pending
               FROM (SELECT member_id, SUM(remaining) AS total FROM loyalty_growthentry GROUP BY member_id) AS g,
                    (SELECT member_id,
                            SUM(CASE WHEN released_at IS NOT NULL THEN remaining ELSE 0 END) AS available,
                            SUM(CASE WHEN released_at IS NULL THEN remaining ELSE 0 END) AS pending
                     FROM loyalty_pointsentry WHERE amount > 0 GROUP BY member_id) AS p
               WHERE g.member_id = members_member.id AND p.member_id = members_member.id""",
        )
        _sql(cursor, "tiers", f"UPDATE members_member SET tier_id = {qualifying}")
        _sql(
            cursor,
            "tier history",
            """INSERT INTO loyalty_tierchange (member_id, from_tier_id, to_tier_id, reason, period, growth_value,
                                                note, created_at)
               SELECT id, NULL, %s, 'enrolment', '', 0, '', joined_at FROM members_member
               UNION ALL
               SELECT id, %s, tier_id, 'upgrade', '', growth_value, '', joined_at + interval '1 day'
               FROM members_member WHERE tier_id <> %s
               ORDER BY 1, 8""",
            [lowest.pk, lowest.pk, lowest.pk],
        )
        for table in (
            "members_member",
            "loyalty_growthentry",
            "loyalty_pointsentry",
            "loyalty_pointsallocation",
            "loyalty_tierchange",
            "loyalty_growthallocation",
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}")
    with connection.cursor() as cursor:
        _sql(cursor, "analyze", "ANALYZE")
