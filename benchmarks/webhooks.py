"""Webhooks at weight (issue 20), each comparison in the same run. Writes the `webhooks` section of
docs/benchmarks.md.

1. Delivery throughput: `--deliveries` events to one endpoint at a local receiver (a separate
   process: asyncio, HTTP/1.1 keep-alive, answering 204 and verifying every 50th request with the
   `standardwebhooks` library), sent by the workers the README's deployment runs — one
   `celery worker` with its default concurrency (a prefork process per core) — each send task with
   WEBHOOK_SENDER_THREADS threads. Timed from the first task to the last delivery recorded.
2. Ingestion with two active endpoints against none: batches of 500 purchases (record_events) and
   single events (record_storefront_event), in alternating rounds on fresh members, while Celery
   beat and the workers run as deployed (the outbox relay every 5 s, which makes the deliveries,
   and the send tasks). "None": the two endpoints disabled; the relay still runs for the other
   subscribers.

    .venv/bin/python benchmarks/webhooks.py --deliveries 20000 --rounds 6 --tune-postgres

Needs PostgreSQL and Redis on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.monthly_run import REDIS, server_settings, tune_postgres  # noqa: E402
from benchmarks.support import ROOT, fresh_database, purchases, setup_django, write_section  # noqa: E402

RECEIVER_PORT = 8765
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VERIFY_EVERY = 50


# --- the receiver (its own process) -----------------------------------------------------------------


def serve(port: int, counts: Path) -> None:
    """Answer every POST with 204 on keep-alive connections; write `requests verified failed` to
    `counts` every second."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    webhook = Webhook(SECRET)
    tally = {"requests": 0, "verified": 0, "failed": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                headers = {name.lower(): value for name, value in headers.items()}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                tally["requests"] += 1
                if tally["requests"] % VERIFY_EVERY == 0:
                    try:
                        webhook.verify(body, headers)
                        tally["verified"] += 1
                    except WebhookVerificationError:
                        tally["failed"] += 1
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def report() -> None:
        while True:
            counts.write_text(f"{tally['requests']} {tally['verified']} {tally['failed']}")
            await asyncio.sleep(1)

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        asyncio.get_running_loop().create_task(report())
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_receiver(counts: Path) -> subprocess.Popen:
    # It stands for the customers' services, which run elsewhere: on this one machine it takes the
    # CPU only when the system under test leaves some.
    command = ["nice", "-n", "19", sys.executable, __file__, "--serve", str(RECEIVER_PORT), "--counts", str(counts)]
    process = lowest_priority(subprocess.Popen(command, start_new_session=True))
    time.sleep(1)
    return process


def received(counts: Path) -> tuple[int, int, int]:
    text = counts.read_text() if counts.exists() else "0 0 0"
    requests, verified, failed = (int(n) for n in text.split())
    return requests, verified, failed


# --- the deployment's processes ---------------------------------------------------------------------


ENVIRONMENT = {"REDIS_URL": REDIS, "WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_QUEUE": "webhooks"}


def environment() -> dict[str, str]:
    return {**os.environ, **ENVIRONMENT, "DEBUG": "0", "LOG_LEVEL": "WARNING"}


def start_worker() -> subprocess.Popen:
    """`celery -A config worker` as the README runs it: prefork, one process per core."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-q", "-A", "config", "worker", "--loglevel", "ERROR", "-n", "bench@%h"],
        cwd=ROOT,
        env=environment(),
        start_new_session=True,
    )


WEBHOOKS_WORKER = [
    "celery",
    "-q",
    "-A",
    "config",
    "worker",
    "-Q",
    "webhooks",
    "--loglevel",
    "ERROR",
    "-n",
    "webhooks@%h",
]


def start_webhooks_worker() -> subprocess.Popen:
    """The README's webhooks worker: the send tasks' queue, at the lowest CPU priority."""
    command = ["nice", "-n", "19", sys.executable, "-m", *WEBHOOKS_WORKER]
    return lowest_priority(subprocess.Popen(command, cwd=ROOT, env=environment(), start_new_session=True))


def lowest_priority(process: subprocess.Popen) -> subprocess.Popen:
    """The process's session at the lowest CPU weight. Linux groups the CPU by session (autogroup):
    `nice` alone orders the threads within a session, not a session against the others, so a
    worker in a session of its own needs its session's weight lowered, as systemd's CPUWeight=
    lowers its service's."""
    autogroup = Path(f"/proc/{process.pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text("19")
    return process


def start_beat() -> subprocess.Popen:
    """Beat with the database scheduler, on the schedules setup_schedules made."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-q", "-A", "config", "beat", "--loglevel", "ERROR"],
        cwd=ROOT,
        env=environment(),
        start_new_session=True,
    )


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(60)


# --- the measurements -------------------------------------------------------------------------------


def make_members(count: int, prefix: str) -> None:
    from loyalty.services import enrol_member

    for n in range(count):
        enrol_member(external_id=f"{prefix}-{n}", name="x")


def throughput(deliveries: int, counts: Path) -> tuple[float, int]:
    """Deliveries a second, the deployment's workers sending `deliveries` waiting ones."""
    import redis
    from django.db import transaction

    from config.celery import app
    from loyalty import outbox
    from members.models import Member
    from members.outbox import Occurrence, publish_many
    from webhooks.models import Delivery
    from webhooks.services import create_endpoint

    create_endpoint(url=f"http://127.0.0.1:{RECEIVER_PORT}/hooks", event_types="*", secret=SECRET)
    make_members(200, "t")
    ids = list(Member.objects.values_list("id", flat=True))
    for start in range(0, deliveries, 5000):
        with transaction.atomic():
            publish_many(
                [
                    Occurrence("points.adjusted", {"points": n, "kind": "adjust"}, ids[n % len(ids)])
                    for n in range(start, min(start + 5000, deliveries))
                ]
            )
    outbox.relay(max_seconds=600)
    redis.Redis.from_url(REDIS).flushdb()  # the relay's own "send now" message: the clock starts below
    waiting = Delivery.objects.filter(status="pending").count()
    before = received(counts)[0]
    worker = start_webhooks_worker()
    time.sleep(5)  # the worker's processes up before the clock starts
    pending = Delivery.objects.filter(status="pending")
    try:
        started = checked = time.perf_counter()
        _dispatch(app)
        while pending.exists():
            time.sleep(0.1)
            if time.perf_counter() - checked > 10:  # a task stops after 50 s: start more, as beat would
                checked = time.perf_counter()
                if not _busy(app):
                    _dispatch(app)
        seconds = time.perf_counter() - started
    finally:
        stop(worker)
    print(f"throughput: {waiting} in {seconds:.1f} s; receiver {received(counts)[0] - before}", flush=True)
    return waiting / seconds, waiting


def _dispatch(app) -> None:
    for _ in range(os.cpu_count() or 1):  # a task for each worker process
        app.send_task("webhooks.send_deliveries")


def _busy(app) -> bool:
    active = app.control.inspect(timeout=1).active() or {}
    return any(active.values())


def ingestion(rounds: int, batch_events: int, single_events: int) -> dict[str, list[float]]:
    """Events per second, batched and single, with two endpoints active and with both disabled, in
    alternating order; beat and the worker run throughout."""
    from loyalty.services import record_events
    from loyalty.services.event_batch import record_storefront_event
    from webhooks.models import Endpoint
    from webhooks.services import create_endpoint, disable_endpoint, resume_endpoint

    Endpoint.objects.update(status=Endpoint.Status.DISABLED)
    two = [
        create_endpoint(url=f"http://127.0.0.1:{RECEIVER_PORT}/{name}", event_types=types, secret=SECRET)[0]
        for name, types in (("crm", "*"), ("messaging", "points.*,tier.*"))
    ]
    figures: dict[str, list[float]] = {"batch off": [], "batch on": [], "single off": [], "single on": []}
    serial = 0
    for round_number in range(rounds):
        for state in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
            for endpoint in two:
                (resume_endpoint if state == "on" else disable_endpoint)(endpoint=endpoint)
            prefix = f"r{round_number}{state}"
            make_members(batch_events // 2, prefix)
            events = purchases(prefix, batch_events + single_events, batch_events // 2, serial + 1)
            serial += len(events)
            drained = settle()
            started = time.perf_counter()
            for start in range(0, batch_events, 500):
                record_events(source="bench", events=events[start : start + 500])
            figures[f"batch {state}"].append(batch_events / (time.perf_counter() - started))
            started = time.perf_counter()
            for body in events[batch_events:]:
                record_storefront_event(source="bench", body=body)
            figures[f"single {state}"].append(single_events / (time.perf_counter() - started))
            latest = {name: round(values[-1]) for name, values in figures.items() if values}
            print(round_number, state, f"drained in {drained:.0f} s", latest, flush=True)
    return figures


def settle(limit: float = 300) -> float:
    """Wait (up to `limit` seconds) until the relay has handed everything over and no delivery is
    waiting, so that each round starts from the same idle system, then VACUUM ANALYZE."""
    from django.db import connection

    from loyalty.models import OutboxNumbering, OutboxSubscriber
    from members.models import DomainEventBatch
    from webhooks.models import Delivery

    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        last = OutboxNumbering.objects.values_list("last_position", flat=True).first() or 0
        relayed = not DomainEventBatch.objects.filter(position__isnull=True).exists() and not (
            OutboxSubscriber.objects.filter(position__lt=last).exists()
        )
        if relayed and not Delivery.objects.filter(status="pending", endpoint__status="active").exists():
            break
        time.sleep(1)
    waited = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return waited


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--batch-events", type=int, default=5000)
    parser.add_argument("--single-events", type=int, default=500)
    parser.add_argument("--tune-postgres", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--counts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.counts)
        return
    if args.tune_postgres:
        tune_postgres()
    os.environ.update(ENVIRONMENT)
    fresh_database("loyalty_bench_webhooks")
    setup_django()
    import redis
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("setup_schedules", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        settings_line = server_settings(cursor)
    redis.Redis.from_url(REDIS).flushdb()
    work = Path("/tmp/loyalty-bench-webhooks")
    work.mkdir(exist_ok=True)
    counts = work / "counts"
    counts.unlink(missing_ok=True)
    receiver = start_receiver(counts)
    try:
        rate, sent = throughput(args.deliveries, counts)
        processes = start_worker(), start_webhooks_worker(), start_beat()
        try:
            figures = ingestion(args.rounds, args.batch_events, args.single_events)
        finally:
            stop(*processes)
        requests, verified, failed = received(counts)
    finally:
        stop(receiver)
    report(args, settings_line, rate, sent, figures, requests, verified, failed)


def report(args, settings_line, rate, sent, figures, requests, verified, failed) -> None:
    from django.conf import settings

    medians = {name: statistics.median(values) for name, values in figures.items()}

    def row(label: str, kind: str) -> str:
        off, on = medians[f"{kind} off"], medians[f"{kind} on"]
        return f"| {label}, events/s | {off:,.0f} | {on:,.0f} | {on / off:.1%} |"

    command = (
        f"`.venv/bin/python benchmarks/webhooks.py --deliveries {args.deliveries} --rounds {args.rounds} "
        f"--batch-events {args.batch_events} --single-events {args.single_events}"
        f"{' --tune-postgres' if args.tune_postgres else ''}`"
    )
    body = f"""## Webhooks (issue 20)

Command: {command}

PostgreSQL server settings: {settings_line}. The receiver is a separate local process at the lowest
CPU priority (it stands for the customers' services, which run elsewhere; asyncio, keep-alive, 204,
every {VERIFY_EVERY}th request verified with `standardwebhooks`: {verified:,} verified, {failed} failed,
{requests:,} requests in all).

**Delivery throughput**: {sent:,} waiting deliveries sent by the README's webhooks worker
(`celery -A config worker -Q webhooks`, prefork, {os.cpu_count()} processes: the default, one per core; at
the lowest CPU priority), {settings.WEBHOOK_SENDER_THREADS} threads a task, claims of
{settings.WEBHOOK_CLAIM_SIZE}: **{rate:,.0f} deliveries/s**.

**Ingestion with two active endpoints** (one taking `*`, one `points.*,tier.*`) against the same two
disabled, while Celery beat and both workers run as deployed (the relay every 5 s makes the
deliveries; the send tasks send them to the receiver). Each round starts once the previous one's
deliveries are sent. Medians of {args.rounds} alternating rounds
on fresh members:

| | endpoints disabled | two active | share |
|---|---|---|---|
{row("batched purchases (500 a batch)", "batch")}
{row("single purchases (`POST events/`'s path)", "single")}
"""
    write_section("webhooks", body)
    print(body)


if __name__ == "__main__":
    main()
