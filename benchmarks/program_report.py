"""Program design report benchmark (not a test): the whole `program_report` on the 1,000,000-member
data set of benchmarks/monthly_run.py, plus a year of purchases and task events (with their rule
hits), redemptions and benefit grants so that every report has rows to read.

    .venv/bin/python benchmarks/program_report.py [--members 1000000] [--reuse-data] [--runs 3]

--reuse-data clones the kept data of monthly_run.py (`loyalty_bench_jobs_data_N`, generated and kept
first when there is none) and keeps the behaviour layer added here as `loyalty_bench_report_data_N`
for the next run. Needs PostgreSQL on 127.0.0.1. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import (  # noqa: E402
    clone_database,
    database_comment,
    database_exists,
    fresh_database,
    keep_database,
    setup_django,
    write_section,
)

WORK = "loyalty_bench_report"
PURCHASES_PER_MEMBER = 4  # on average over the year; long-tailed
TASKS_PER_MEMBER = 4


def _sql(cursor, label: str, statement: str, params=None) -> None:
    started = time.perf_counter()
    cursor.execute(statement, params)
    print(f"  {label}: {cursor.rowcount:,} rows in {time.perf_counter() - started:.1f}s", flush=True)


def add_behaviour(members: int) -> None:
    """Purchases and task events (check-ins, reviews, logins) over the last 365 days with their rule
    hits, then the mall's rows (add_mall). Rows are written in time order, as a live system appends
    them (the block-range indexes on the event and hit days depend on it)."""
    from django.db import connection

    from loyalty.models import Tier

    ladder = list(Tier.objects.order_by("rank"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.7)")
        cursor.execute("INSERT INTO loyalty_storefront (code, name, created_at) VALUES ('bench', 'bench', now())")
        # Frequency grows with the member's tier, so the weight matrix and the RFM quadrants differ by tier.
        _sql(
            cursor,
            "purchases",
            f"""INSERT INTO loyalty_event (source, event_id, member_id, event_type_id, occurred_at, amount, order_id,
                                            original_order_id, data, fingerprint, growth_delta, points_delta,
                                            tier_after_id, tier_changed, recorded_at)
                SELECT 'bench', 'p' || m.id || '-' || k, m.id, 'purchase', at, amount, 'o' || m.id || '-' || k, '',
                       '{{}}', '', amount::int, amount::int, m.tier_id, false, at
                FROM members_member AS m
                CROSS JOIN LATERAL generate_series(1, (power(random(), 2) * {PURCHASES_PER_MEMBER * 3}
                                                         * (1 + (SELECT rank FROM loyalty_tier WHERE id = m.tier_id))
                                                         / 3)::int) AS k
                CROSS JOIN LATERAL (SELECT now() - random() * interval '365 days' AS at,
                                           round((20 + power(random(), 2) * 480)::numeric, 2) AS amount
                                    OFFSET 0 * k) AS draw
                ORDER BY at""",
        )
        _sql(
            cursor,
            "tasks",
            f"""INSERT INTO loyalty_event (source, event_id, member_id, event_type_id, occurred_at, amount, order_id,
                                            original_order_id, data, fingerprint, growth_delta, points_delta,
                                            tier_after_id, tier_changed, recorded_at)
                SELECT 'bench', 't' || m.id || '-' || k, m.id, kind, at, NULL, '', '', '{{}}', '', 0, 0, m.tier_id,
                       false, at
                FROM members_member AS m
                CROSS JOIN LATERAL generate_series(1, (random() * {TASKS_PER_MEMBER * 2})::int) AS k
                CROSS JOIN LATERAL (SELECT now() - random() * interval '365 days' AS at,
                                           (ARRAY['check_in', 'login', 'review'])[1 + (random() * 2)::int] AS kind
                                    OFFSET 0 * k) AS draw
                ORDER BY at""",
        )
        _sql(
            cursor,
            "rule hits",
            """INSERT INTO loyalty_rulehit (event_id, rule_id, member_id, local_day, growth, points)
               SELECT e.id, r.id, e.member_id, (e.occurred_at AT TIME ZONE 'Asia/Shanghai')::date,
                      r.growth + (r.growth_per_unit * COALESCE(e.amount, 0))::int,
                      r.points + (r.points_per_unit * COALESCE(e.amount, 0))::int
               FROM loyalty_event AS e JOIN loyalty_earningrule AS r ON r.event_type_id = e.event_type_id
               ORDER BY e.occurred_at""",
        )
    add_mall(ladder)


def add_mall(ladder) -> None:
    """A redemption per 20 members over the last 300 days and this month's benefit grants to the
    upper half of the ladder."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, points_cost FROM rewards_reward WHERE is_active ORDER BY id LIMIT 1")
        reward_id, cost = cursor.fetchone()
        _sql(
            cursor,
            "redemption spends",
            f"""INSERT INTO loyalty_pointsentry (member_id, kind, amount, reason, created_at, recorded_at, source,
                                                  reference)
                SELECT id, 'spend', -{cost}, 'bench redemption', now() - random() * interval '300 days', now(),
                       'bench', 'r' || id
                FROM members_member WHERE id % 20 = 0""",
        )
        _sql(
            cursor,
            "redemptions",
            f"""INSERT INTO rewards_redemption (member_id, reward_id, quantity, points_spent, spend_id, balance_after,
                                                status, source, idempotency_key, fingerprint, shipping_address,
                                                note, created_at, updated_at)
                SELECT member_id, {reward_id}, 1, -amount, id, 0, 'completed', 'bench', reference, '', '', '',
                       created_at, created_at
                FROM loyalty_pointsentry WHERE reason = 'bench redemption'""",
        )
        cursor.execute("SELECT id FROM rewards_benefit WHERE entitlement = 'monthly_coupons' ORDER BY id LIMIT 1")
        benefit = cursor.fetchone()
        if benefit:
            top = [tier.pk for tier in ladder[len(ladder) // 2 :]]
            _sql(
                cursor,
                "benefit grants",
                """INSERT INTO rewards_benefitgrant (member_id, benefit_id, period, tier_id, coupon_count, points,
                                                      growth, granted_at)
                   SELECT id, %s, to_char(now(), 'YYYY-MM'), tier_id, 2, 0, 0, now()
                   FROM members_member WHERE tier_id = ANY(%s)""",
                [benefit[0], top],
            )
        _sql(cursor, "analyze", "ANALYZE")


def prepare(members: int, reuse: bool) -> tuple[float, bool]:
    """Point Django at WORK holding the data; returns (seconds the data took to make, reused?)."""
    jobs_template = f"loyalty_bench_jobs_data_{members}"
    report_template = f"loyalty_bench_report_data_{members}"
    if reuse and database_exists(report_template):
        clone_database(report_template, WORK)
        setup_django()
        return float(database_comment(report_template)), True
    if reuse and database_exists(jobs_template):
        clone_database(jobs_template, WORK)
        setup_django()
        generation = float(database_comment(jobs_template))
    else:
        fresh_database(WORK)
        setup_django()
        generation = generate_jobs_data(members)
        if reuse:
            keep_database(WORK, jobs_template, comment=f"{generation:.1f}")
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)  # the kept data may predate the latest migrations
    started = time.perf_counter()
    add_behaviour(members)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    generation += time.perf_counter() - started
    if reuse:
        keep_database(WORK, report_template, comment=f"{generation:.1f}")
    return generation, False


def generate_jobs_data(members: int) -> float:
    """monthly_run.py's data set, vacuumed as it does; returns the seconds it took."""
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.monthly_data import generate

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    generate(members)
    generation = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    return generation


def table_sizes() -> dict[str, int]:
    from django.db import connection

    tables = (
        "members_member",
        "loyalty_event",
        "loyalty_rulehit",
        "loyalty_pointsentry",
        "loyalty_growthentry",
        "loyalty_tierchange",
        "rewards_redemption",
        "rewards_benefitgrant",
    )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT '{table}', COUNT(*) FROM {table}" for table in tables))
        return dict(cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse-data", action="store_true", help="clone kept data instead of generating it")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    generation, reused = prepare(args.members, args.reuse_data)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the kept data may predate the latest migrations

    from loyalty.analytics.report import ReportOptions, build_report
    from loyalty.services.jobs import run_job_now

    nightly = []  # the nightly jobs the report reads: the RFM store and the report summaries
    for job in ("store_member_rfm", "store_report_summaries"):
        started = time.perf_counter()
        run = run_job_now(job=job)
        nightly.append((run, time.perf_counter() - started))
        print(f"  {job}: {run.status}, {run.chunks_total} chunks in {nightly[-1][1]:.1f} s", flush=True)

    sizes = table_sizes()
    from django.db import connection

    from benchmarks.monthly_run import server_settings

    with connection.cursor() as cursor:
        settings = server_settings(cursor)
    timings: list[dict[str, float]] = []
    for run in range(args.runs):
        started = time.perf_counter()
        report = build_report(ReportOptions())
        total = time.perf_counter() - started
        timings.append({**report.seconds, "total": total})
        print(f"  run {run + 1}: {total:.2f} s {report.seconds}", flush=True)
    write_results(args, generation, reused, sizes, settings, nightly, timings)


def write_results(args, generation, reused, sizes, settings, nightly, timings) -> None:
    best = min(timings, key=lambda t: t["total"])
    rows = "\n".join(f"| {part} | {seconds:.2f} s |" for part, seconds in best.items() if part != "total")
    counts = ", ".join(f"{table} {count:,}" for table, count in sizes.items())
    nightly_lines = "\n".join(
        f"- `{run.job}`: {run.chunks_total} chunks, {run.entries_written:,} rows, **{seconds:.1f} s**"
        for run, seconds in nightly
    )
    body = f"""
Command: `.venv/bin/python benchmarks/program_report.py --members {args.members} --runs {args.runs}\
{" --reuse-data" if args.reuse_data else ""}` (the same as `manage.py program_report --json`, timed in-process)

Data: the monthly_run data set plus a year of purchases and task events with their rule hits, a
redemption per 20 members and a month of benefit grants: {counts}. Made in {generation:.0f} s
({"cloned from the kept copy" if reused else "generated for this run"}). PostgreSQL server settings: {settings};
each report runs in one transaction with `work_mem` 256MB and JIT off.

Best of {args.runs} runs, **{best["total"]:.2f} s** for the whole report (target < 10 s); all runs:
{", ".join(f"{t['total']:.2f} s" for t in timings)}.

The nightly jobs run before them, each in one process (the RFM section reads the first one's store,
the observed climb and the monthly points flow and spend the second one's summaries):
{nightly_lines}

| part | seconds |
|---|---|
{rows}
"""
    write_section("program_report", body)
    print(body)


if __name__ == "__main__":
    main()
