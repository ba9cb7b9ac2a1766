"""Campaigns at weight (issue 19), each comparison in the same run. Writes the `campaigns` section of
docs/benchmarks.md.

1. Ingestion with five running campaigns (two multipliers, a bonus, two triggered) against none:
   batches of 500 purchases (record_events) and single events (record_storefront_event, as
   `POST events/` records them), in alternating rounds on fresh members, in-process (no HTTP).
2. A one-off grant of 100 points to every member (the campaign_grants job), against a naive loop
   granting one member per transaction, on a sample.
3. The nightly date triggers (a birthday campaign and a 90-day win-back) over every member (the
   campaign_date_triggers job), against the naive loop on a sample.

The jobs run as in production: Celery beat's task fans the run's chunks out to the workers
(`--workers`, prefork, concurrency 1 each, on Redis), as benchmarks/monthly_run.py runs the monthly
night; `--workers 0` runs the chunks one after another in this process instead.

    .venv/bin/python benchmarks/campaigns.py --members 1000000 --sample 2000 --workers 2 --tune-postgres

Needs PostgreSQL and Redis on 127.0.0.1. Writes the `campaigns` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.monthly_run import REDIS, celery_cycle, server_settings, start_workers, tune_postgres  # noqa: E402
from benchmarks.support import fresh_database, purchases, setup_django, write_section  # noqa: E402

FIVE = [
    ("double", "multiplier", {"event_types": ["purchase"], "points_multiplier": "2"}),
    (
        "gold-extra",
        "multiplier",
        {"event_types": ["purchase"], "points_multiplier": "1.5", "audience": {"tiers": ["gold"]}},
    ),
    ("big-basket", "bonus", {"event_types": ["purchase"], "points": 50, "min_amount": "300"}),
    ("first-buy", "triggered", {"trigger": {"type": "first_purchase"}, "reward": {"points": 200}}),
    ("gold-welcome", "triggered", {"trigger": {"type": "tier.upgraded", "tier": "gold"}, "reward": {"points": 100}}),
]


def members_sql(count: int) -> None:
    """`count` members in one INSERT ... SELECT: birthdays spread over the year, joined one to five
    years ago, the last purchase up to 200 days ago (no ledgers: the grants write theirs)."""
    from django.db import connection

    from loyalty.models import Tier

    lowest = Tier.objects.order_by("rank").first().pk
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO members_member (external_id, name, email, phone, birthday, joined_at, tier_id, tier_since,
                                            growth_value, points_available, points_pending, status,
                                            last_activity_at, last_purchase_at, purchase_count, purchase_amount,
                                            created_at, updated_at)
               SELECT 'b' || n, 'Member ' || n, '', '', date '1990-01-01' + (n %% 365),
                      now() - ((365 + n %% 1460) * interval '1 day'), %s, now(), 0, 0, 0, 'active',
                      now() - ((n %% 200) * interval '1 day'), now() - ((n %% 200) * interval '1 day'), 1, 100,
                      now(), now()
               FROM generate_series(1, %s) AS n""",
            [lowest, count],
        )
        cursor.execute("ANALYZE members_member")


def publish(specs, actor=None):
    from campaigns.services.campaigns import publish_campaign, save_campaign

    for code, kind, terms in specs:
        save_campaign(code=code, name=code, kind=kind, terms=terms)
        publish_campaign(code=code)


def set_running(codes, running: bool) -> None:
    from campaigns.models import Campaign
    from campaigns.services.campaigns import pause_campaign, resume_campaign

    for code in codes:
        if (Campaign.objects.get(code=code).status == Campaign.Status.PUBLISHED) != running:
            (resume_campaign if running else pause_campaign)(code=code)


def settle_database() -> None:
    """VACUUM ANALYZE before each timed part: otherwise autovacuum wakes for the rows the part before
    wrote and takes one of the two cores from whichever part runs second."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def ingestion(rounds: int, batch_events: int, single_events: int) -> dict:
    """Events per second, batched and single, with the five campaigns running and without: in
    alternating order (off first in even rounds, on first in odd ones)."""
    from loyalty.services import enrol_member, record_events
    from loyalty.services.event_batch import record_storefront_event

    publish(FIVE)
    codes = [code for code, _, _ in FIVE]
    figures: dict[str, list[float]] = {"batch off": [], "batch on": [], "single off": [], "single on": []}
    serial = 0
    for round_number in range(rounds):
        for state in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
            set_running(codes, state == "on")
            prefix = f"r{round_number}{state}"
            for n in range(batch_events // 2):
                enrol_member(external_id=f"{prefix}-{n}", name="x")
            events = purchases(prefix, batch_events, batch_events // 2, serial + 1)
            serial += len(events)
            settle_database()
            started = time.perf_counter()
            for start in range(0, len(events), 500):
                record_events(source="bench", events=events[start : start + 500])
            figures[f"batch {state}"].append(len(events) / (time.perf_counter() - started))
            settle_database()
            started = time.perf_counter()
            for n in range(single_events):
                serial += 1
                record_storefront_event(
                    source="bench",
                    body={
                        "event_id": f"e{serial}",
                        "member": f"{prefix}-{n % (batch_events // 2)}",
                        "type": "purchase",
                        "amount": str(80 + serial % 400),
                        "order_id": f"o{serial}",
                    },
                )
            figures[f"single {state}"].append(single_events / (time.perf_counter() - started))
    set_running(codes, False)
    return {name: statistics.median(values) for name, values in figures.items()}


def naive_loop(campaign_code: str, member_ids: list[int], occurrence) -> float:
    """Seconds per member granting one member per transaction (the per-member way)."""
    from django.db import transaction
    from django.utils import timezone

    from campaigns.grants import grant_rewards
    from campaigns.models import Campaign
    from members.models import Member

    campaign = Campaign.objects.select_related("current_version").get(code=campaign_code)
    started = time.perf_counter()
    for member_id in member_ids:
        with transaction.atomic():
            list(Member.objects.select_for_update().filter(pk=member_id).values_list("pk"))
            grant_rewards(campaign, [(member_id, occurrence(member_id))], at=timezone.now())
    return (time.perf_counter() - started) / len(member_ids)


def job_seconds(job: str, workers: int) -> float:
    """The job's wall time over every member: on the Celery workers, or chunk after chunk here."""
    from django.utils import timezone

    from loyalty.services.jobs import run_job_now

    if workers:
        return celery_cycle(timezone.now(), (job,))[job][0]
    started = time.perf_counter()
    run_job_now(job=job, as_of=timezone.now())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-events", type=int, default=5000)
    parser.add_argument("--single-events", type=int, default=500)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="Celery workers for the jobs (0: in this process)")
    parser.add_argument(
        "--tune-postgres", action="store_true", help="apply monthly_run's TUNED_SETTINGS to the local cluster first"
    )
    args = parser.parse_args()
    if args.tune_postgres:
        tune_postgres()
    os.environ["REDIS_URL"] = REDIS
    os.environ["LOYALTY_JOB_CHUNK_SIZE"] = str(args.chunk_size)
    fresh_database("loyalty_bench_campaigns")
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        settings_line = server_settings(cursor)
    import redis

    redis.Redis.from_url(REDIS).flushdb()  # drop messages an interrupted earlier run left behind
    workers = start_workers(args.workers) if args.workers else []
    try:
        figures = measure(args)
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait()
    report(args, settings_line, *figures)


def measure(args):
    from django.db import connection
    from django.utils import timezone

    from campaigns.models import CampaignGrant
    from campaigns.services.campaigns import end_campaign
    from members.models import Member

    rates = ingestion(args.rounds, args.batch_events, args.single_events)
    print("ingestion", rates, flush=True)

    started = time.perf_counter()
    members_sql(args.members)
    loaded = time.perf_counter() - started
    total = Member.objects.count()
    print(f"{total} members in {loaded:.1f} s", flush=True)

    ids = list(Member.objects.order_by("?").values_list("pk", flat=True)[: args.sample])
    publish([("naive-gift", "grant", {"reward": {"points": 100}, "ends_at": _later()})])
    naive_grant = naive_loop("naive-gift", ids, lambda member_id: "grant")
    end_campaign(code="naive-gift")
    publish([("gift", "grant", {"reward": {"points": 100}})])
    grant_seconds = job_seconds("campaign_grants", args.workers)
    granted = CampaignGrant.objects.filter(campaign__code="gift").count()
    print(f"grant: {granted} in {grant_seconds:.1f} s; naive {naive_grant * 1000:.2f} ms/member", flush=True)

    publish(
        [
            ("naive-birthday", "triggered", {"trigger": {"type": "birthday"}, "reward": {"points": 88}}),
        ]
    )
    today = timezone.localtime(timezone.now())
    birthday_ids = list(
        Member.objects.filter(birthday__month=today.month).order_by("?").values_list("pk", flat=True)[: args.sample]
    )
    naive_birthday = naive_loop("naive-birthday", birthday_ids, lambda member_id: f"birthday:{today.year}")
    end_campaign(code="naive-birthday")
    publish(
        [
            ("birthday", "triggered", {"trigger": {"type": "birthday"}, "reward": {"points": 88}}),
            ("winback", "triggered", {"trigger": {"type": "dormant", "days": 90}, "reward": {"points": 500}}),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    nightly_seconds = job_seconds("campaign_date_triggers", args.workers)
    nightly_grants = CampaignGrant.objects.filter(campaign__code__in=["birthday", "winback"]).count()
    print(
        f"nightly: {nightly_grants} grants in {nightly_seconds:.1f} s; naive {naive_birthday * 1000:.2f} ms", flush=True
    )
    return rates, total, grant_seconds, granted, naive_grant, nightly_seconds, nightly_grants, naive_birthday


def _later() -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() + timedelta(days=1)).isoformat()


def report(
    args, settings_line, rates, total, grant_seconds, granted, naive_grant, nightly_seconds, nightly_grants, naive_night
):
    def rate_row(label: str, kind: str) -> str:
        off, on = rates[f"{kind} off"], rates[f"{kind} on"]
        return f"| {label}, events/s | {off:,.0f} | {on:,.0f} | {on / off:.1%} |"

    def job_row(label: str, seconds: float, naive: float, count: int) -> str:
        return f"| {label} | {seconds:.1f} s | {naive * 1000:.2f} ms a member | {naive * count / 60:.0f} min |"

    command = (
        f"`.venv/bin/python benchmarks/campaigns.py --members {args.members} --sample {args.sample} "
        f"--rounds {args.rounds} --batch-events {args.batch_events} --single-events {args.single_events} "
        f"--chunk-size {args.chunk_size} --workers {args.workers}{' --tune-postgres' if args.tune_postgres else ''}`"
    )
    runner = (
        f"{args.workers} Celery workers (prefork, concurrency 1 each) on Redis, as beat starts the job"
        if args.workers
        else "chunk after chunk in one process"
    )
    rows = "\n".join(
        [
            rate_row("batched purchases (500 a batch)", "batch"),
            rate_row("single purchases (`POST events/`'s path)", "single"),
        ]
    )
    jobs = "\n".join(
        [
            job_row(f"one-off grant of 100 points to everyone ({granted:,} grants)", grant_seconds, naive_grant, total),
            job_row(
                f"nightly date triggers: birthday month and 90-day win-back ({nightly_grants:,} grants)",
                nightly_seconds,
                naive_night,
                nightly_grants,
            ),
        ]
    )
    body = f"""Command: {command}

PostgreSQL server settings: {settings_line}. Ingestion in-process (no HTTP); the jobs in chunks of
{args.chunk_size:,} members on {runner}; PostgreSQL on the same machine.

| | without campaigns | with five running | share |
|---|---|---|---|
{rows}

The five: two multipliers (one for gold), a bonus above 300, a first-purchase trigger and a
gold-upgrade trigger (their grants follow through the outbox relay, not measured here). Medians of
{args.rounds} alternating rounds on fresh members.

| over {total:,} members | set-based job | naive loop, one member a transaction, on {args.sample:,} | extrapolated |
|---|---|---|---|
{jobs}

Issue 19's targets: ingestion with the five at ≥ 90% of the throughput without them; each job ≤ 60 s.
"""
    write_section("campaigns", body)
    print(body)


if __name__ == "__main__":
    main()
