"""Monthly cycle benchmark (not a test): 1,000,000 members with about 20 ledger rows each on
PostgreSQL and 2 Celery workers on Redis, over two nights:

1. the catch-up: release -> expire points -> expire growth over 18 months of history that no job
   has expired yet (a third of all lots), as after an import or an outage: the worst night;
2. the next night, the monthly one: release -> expire points -> expire growth -> recalculate tiers,
   with the nightly jobs up to date (only the day's lots expire) and every tier change the
   catch-up's expiry caused still to make: the monthly cycle. It is compared with a naive
   per-member ORM loop (a 10,000-member sample, extrapolated) and with the floor (each job as
   single unchunked statements).

    .venv/bin/python benchmarks/monthly_run.py [--members 1000000] [--sample 10000] [--chunk-size 10000]

Needs PostgreSQL and Redis on 127.0.0.1. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import (  # noqa: E402
    ROOT,
    clone_database,
    database_comment,
    database_exists,
    fresh_database,
    keep_database,
    setup_django,
    write_section,
)

JOBS = ("release_pending_points", "expire_points", "expire_growth", "recalculate_tiers")
CATCH_UP_JOBS = JOBS[:3]  # the nightly jobs; tiers are recalculated on the 1st
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/7")
# docs/jobs.md ("PostgreSQL settings for the jobs"): a server sized for the data instead of Debian's
# defaults (128 MB shared buffers, a checkpoint every 1 GB of WAL, each followed by full-page writes).
TUNED_SETTINGS = {
    "shared_buffers": "6GB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "wal_compression": "lz4",
    "work_mem": "64MB",
}
REPORTED_SETTINGS = tuple(TUNED_SETTINGS) + ("synchronous_commit",)


def tune_postgres() -> None:
    """ALTER SYSTEM to TUNED_SETTINGS and restart the local cluster (shared_buffers needs it)."""
    from benchmarks.support import PG_SERVER

    for name, value in TUNED_SETTINGS.items():
        subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", f"ALTER SYSTEM SET {name} = '{value}'"], check=True)
    version = subprocess.run(["ls", "/etc/postgresql"], capture_output=True, text=True, check=True).stdout.split()[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)


def server_settings(cursor) -> str:
    values = []
    for name in REPORTED_SETTINGS:
        cursor.execute(f"SHOW {name}")
        values.append(f"{name}={cursor.fetchone()[0]}")
    return ", ".join(values)


def vacuum(cursor) -> None:
    """As a live database would be: visibility and hint bits set, statistics current (a fresh COPY
    load, or a rolled-back pass over it, leaves the first reader to write every page)."""
    cursor.execute("VACUUM ANALYZE")


def naive_loop(sample: int, as_of, period: str) -> float:
    """The per-member building blocks over the first `sample` members, rolled back afterwards."""
    from django.db import transaction

    from loyalty.services import expire_growth, expire_points, recalculate_member_tier, release_pending_points
    from members.models import Member

    members = list(Member.objects.order_by("id")[:sample])
    started = time.perf_counter()
    with transaction.atomic():
        for member in members:
            release_pending_points(member=member, as_of=as_of)
        for member in members:
            expire_points(member=member, as_of=as_of)
        for member in members:
            expire_growth(member=member, as_of=as_of)
        for member in members:
            recalculate_member_tier(member=member, period=period, as_of=as_of)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def floor(as_of, period: str) -> dict[str, float]:
    """Each job as one set of statements over all members, no chunks, rolled back afterwards."""
    from django.db import connection, transaction

    from loyalty.models import ProgramSettings
    from loyalty.services import bulk

    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM members_member")
        first, last = cursor.fetchone()
    timings = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # as the chunks run (services/jobs.py)
        for job in JOBS:
            started = time.perf_counter()
            if job == "recalculate_tiers":
                policy = ProgramSettings.current().downgrade_policy
                bulk.recalculate_tiers(first, last, as_of, period=period, policy=policy, note="floor")
            else:
                getattr(bulk, job)(first, last, as_of)
            timings[job] = time.perf_counter() - started
        transaction.set_rollback(True)
    return timings


def start_workers(count: int) -> list[subprocess.Popen]:
    env = {**os.environ, "REDIS_URL": REDIS, "DEBUG": "0", "LOG_LEVEL": "WARNING"}  # chunk size via the env
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "-n",
                f"bench{n}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        for n in range(count)
    ]


def celery_cycle(as_of, jobs=JOBS) -> dict[str, tuple[float, int, int, int]]:
    """Each job dispatched to the workers as a chord of chunks; waits for its JobRun to finish."""
    from config.celery import app
    from loyalty.models import JobRun
    from loyalty.services.jobs import period_key

    app.conf.update(broker_url=REDIS, result_backend=REDIS, task_always_eager=False)
    results = {}
    for job in jobs:
        started = time.perf_counter()
        app.send_task("loyalty.run_scheduled_job", args=[job, as_of.isoformat()])
        while True:
            run = JobRun.objects.filter(job=job, period=period_key(job, as_of)).first()
            if run and run.status != JobRun.Status.RUNNING:
                break
            time.sleep(0.05)
        results[job] = (time.perf_counter() - started, run.chunks_total, run.members_changed, run.entries_written)
        print(f"  {job}: {results[job]}", flush=True)
        if run.status != JobRun.Status.DONE:
            raise RuntimeError(f"{job} failed: {run.error}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--tune-postgres", action="store_true", help="apply TUNED_SETTINGS to the local cluster and restart it"
    )
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="clone the data an earlier run with this flag generated for this many members (generating and "
        "keeping it first if there is none): the cycle changes the data, so each run needs a fresh copy",
    )
    args = parser.parse_args()
    if args.tune_postgres:
        tune_postgres()

    template = f"loyalty_bench_jobs_data_{args.members}"
    kept = args.reuse_data and database_exists(template)
    database_url = clone_database(template, "loyalty_bench_jobs") if kept else fresh_database("loyalty_bench_jobs")
    os.environ["REDIS_URL"] = REDIS
    os.environ["LOYALTY_JOB_CHUNK_SIZE"] = str(args.chunk_size)
    setup_django()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from benchmarks.monthly_data import generate
    from loyalty.services.jobs import period_key

    if kept:
        generation = float(database_comment(template))
        print(f"Data cloned from {template} (generated in {generation:.0f} s)", flush=True)
    else:
        call_command("migrate", verbosity=0)
        print(f"Generating {args.members:,} members...", flush=True)
        started = time.perf_counter()
        generate(args.members)
        generation = time.perf_counter() - started
        with connection.cursor() as cursor:
            vacuum(cursor)
        if args.reuse_data:
            connection.close()
            keep_database("loyalty_bench_jobs", template, comment=f"{generation:.1f}")
    call_command("migrate", verbosity=0)  # the kept data may predate the latest migrations
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COUNT(*) FROM loyalty_growthentry) + (SELECT COUNT(*) FROM loyalty_pointsentry)"
            " + (SELECT COUNT(*) FROM loyalty_pointsallocation) + (SELECT COUNT(*) FROM loyalty_tierchange)"
        )
        rows = cursor.fetchone()[0]
        settings = server_settings(cursor)
    # After the last pending lot's return window (3 days), so the catch-up releases them all.
    catch_up = timezone.now() + timedelta(days=4)
    as_of = catch_up + timedelta(days=1)
    period = period_key("recalculate_tiers", as_of)

    import redis

    redis.Redis.from_url(REDIS).flushdb()  # drop messages an interrupted earlier run left behind
    workers = start_workers(args.workers)
    try:
        time.sleep(3)
        print(f"Catch-up night on {args.workers} Celery workers...", flush=True)
        catch_up_cycle = celery_cycle(catch_up, CATCH_UP_JOBS)
        with connection.cursor() as cursor:
            vacuum(cursor)  # as autovacuum would between two nights
        print("Naive per-member loop on the sample...", flush=True)
        naive = naive_loop(args.sample, as_of, period)
        print(f"  {naive:.1f} s for {args.sample:,} members", flush=True)
        print("Floor: unchunked statements...", flush=True)
        floor_timings = floor(as_of, period)
        print(f"  {floor_timings}", flush=True)
        with connection.cursor() as cursor:
            vacuum(cursor)  # the floor's rolled-back rows
        print(f"Monthly night on {args.workers} Celery workers...", flush=True)
        cycle = celery_cycle(as_of)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait()
    print("Auditing...", flush=True)
    started = time.perf_counter()
    audit_result = subprocess.run(
        [sys.executable, "manage.py", "loyalty_audit", "--limit", "3"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
    )
    audit_seconds = time.perf_counter() - started
    report(args, generation, rows, settings, catch_up_cycle, naive, floor_timings, cycle, audit_result, audit_seconds)


def report(args, generation, rows, settings, catch_up, naive, floor_timings, cycle, audit_result, audit_seconds):
    total = sum(seconds for seconds, *_ in cycle.values())
    catch_up_total = sum(seconds for seconds, *_ in catch_up.values())
    floor_total = sum(floor_timings.values())
    naive_total = naive * args.members / args.sample
    catch_up_lines = "\n".join(
        f"| `{job}` | {seconds:.1f} s | {chunks} | {members:,} | {entries:,} |"
        for job, (seconds, chunks, members, entries) in catch_up.items()
    )
    lines = "\n".join(
        f"| `{job}` | {seconds:.1f} s | {chunks} | {members:,} | {entries:,} | {floor_timings[job]:.1f} s |"
        for job, (seconds, chunks, members, entries) in cycle.items()
    )
    audit = (
        "passed" if audit_result.returncode == 0 else "FAILED: " + (audit_result.stdout + audit_result.stderr)[-500:]
    )
    body = f"""
Command: `.venv/bin/python benchmarks/monthly_run.py --members {args.members} --sample {args.sample} \\
--chunk-size {args.chunk_size} --workers {args.workers}{" --tune-postgres" if args.tune_postgres else ""}\
{" --reuse-data" if args.reuse_data else ""}`

PostgreSQL server settings: {settings}. Tables vacuumed and analysed after generation and between the nights.

Data: {args.members:,} members, {rows:,} ledger, allocation and tier-history rows (about {rows / args.members:.0f}
per member), generated in PostgreSQL in {generation:.0f} s. Each member has 8 growth and 8 points lots earned over
the last 18 months (about a third past their 12-month expiry), pending lots due for release, and a spend.
{args.workers} Celery workers (prefork, concurrency 1 each) on Redis; PostgreSQL on the same machine.

**The monthly night** (the four jobs, the night after the catch-up below: the day's lots expire,
and the tiers are recalculated for the whole population, including every move the catch-up's
expiry caused):

| job | wall time | chunks | members changed | entries written | floor (one unchunked pass) |
|---|---|---|---|---|---|
{lines}
| **whole cycle** | **{total:.1f} s** | | | | **{floor_total:.1f} s** |

- Naive per-member ORM loop (the services' building blocks) over the same night: {naive:.1f} s for
  {args.sample:,} members, extrapolated **{naive_total:,.0f} s** for {args.members:,} -> the jobs are
  **{naive_total / total:.0f}x** faster (target >= 100x).
- Against the floor: **{total / floor_total:.2f}x** (target within 2x). Target for the cycle: <= 120 s.
- `loyalty_audit` afterwards: {audit} ({audit_seconds:.0f} s).

**The catch-up night before it** (the nightly jobs over 18 months of history no job had expired
yet, as after an import or a long outage: a third of all lots expire at once):

| job | wall time | chunks | members changed | entries written |
|---|---|---|---|---|
{catch_up_lines}
| **catch-up** | **{catch_up_total:.1f} s** | | | |
"""
    write_section("monthly_run", body)
    print(body)


if __name__ == "__main__":
    main()
