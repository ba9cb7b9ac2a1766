"""Storefront API ingest benchmark (not a test): gunicorn on PostgreSQL, 10,000 members, 16
concurrent clients on the same machine.

    .venv/bin/python benchmarks/api_ingest.py [--members 10000] [--clients 16] [--seconds 20]

Measures single-event POST throughput and latency, batch throughput, member-card GET latency, and
the floor: the same ledger rows written by one INSERT ... SELECT. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import ROOT, fresh_database, percentile, setup_django, write_section  # noqa: E402

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}/api/v1"
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")


def prepare(members: int) -> str:
    """Members with zero balances (consistent ledgers) and an API key; returns the key."""
    from django.core.management import call_command
    from django.db import connection

    from loyalty.models import Tier, TierChange
    from loyalty.services.storefronts import create_api_key
    from members.models import Member

    call_command("migrate", verbosity=0)
    lowest = Tier.objects.order_by("rank").first()
    Member.objects.bulk_create(
        (Member(external_id=f"m{i}", name=f"Member {i}", tier=lowest) for i in range(members)), batch_size=5000
    )
    TierChange.objects.bulk_create(
        (TierChange(member=m, to_tier=lowest, reason="enrolment", growth_value=0) for m in Member.objects.all()),
        batch_size=5000,
    )
    _, key = create_api_key(storefront_name="bench")
    with connection.cursor() as cursor:
        # As a live database would be: the member table's planner statistics current. The ledgers start
        # empty and autovacuum analyzes them as they grow (statistics of empty ledgers would tell the
        # planner to scan them whole for the rest of the run).
        cursor.execute(f"ANALYZE {Member._meta.db_table}")
    return key


def start_server(workers: int, threads: int) -> subprocess.Popen:
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", PORT)) == 0:
            raise RuntimeError(f"Port {PORT} is already in use: the load would go to another server.")
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-only-secret-key-benchmark-only-secret-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        # As in production: the per-key throttle counts in Redis, shared by the workers. One key
        # sends all the load here, more than the default 60,000/min allows one storefront.
        "REDIS_URL": REDIS_URL,
        "API_RATE_PER_KEY": "10000000/min",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread" if threads > 1 else "sync",
            "--log-level",
            "warning",
            # Import the application once, before forking: without it each worker spent its first
            # seconds of the measured run importing Django (seen with py-spy), on a busy machine
            # most of a 10-second phase.
            "--preload",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    import httpx

    for _ in range(100):
        try:
            httpx.get(f"{BASE}/tiers/", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


class EventFactory:
    """Realistic mixed traffic: purchases, check-ins and reviews of random members."""

    def __init__(self, members: int, seed: int = 7):
        self.random = random.Random(seed)
        self.members = members
        self.ids = itertools.count()

    def __call__(self) -> dict:
        n = next(self.ids)
        member = f"m{self.random.randrange(self.members)}"
        roll = self.random.random()
        if roll < 0.5:
            amount = f"{min(self.random.lognormvariate(5, 1), 50000):.2f}"
            return {"event_id": f"e{n}", "member": member, "type": "purchase", "amount": amount, "order_id": f"o{n}"}
        kind = "check_in" if roll < 0.85 else "review"
        return {"event_id": f"e{n}", "member": member, "type": kind}


class Connection:
    """A minimal HTTP/1.1 client on asyncio streams: a request is one write and a read of the status
    line, the headers and Content-Length bytes. httpx cost about 1 ms of CPU per request, on the
    same two cores as the server it measures; this costs a tenth of that. It reconnects when the
    server closes the connection (gunicorn's sync workers close every one)."""

    def __init__(self):
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", PORT)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nAuthorization: {HEADERS['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        length, close = 0, False
        while (line := await self.reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        payload = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.reader = self.writer = None
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_clients(clients: int, seconds: float, request) -> tuple[list[float], int, float]:
    """Each client sends requests back to back for `seconds`; returns latencies, errors, elapsed."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client():
        nonlocal errors
        connection = Connection()
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                ok = await request(connection)
                latencies.append(time.perf_counter() - started)
                errors += not ok
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


HEADERS: dict[str, str] = {}
API = "/api/v1"


def single_events(factory: EventFactory, clients: int, seconds: float):
    async def post(connection):
        status, _ = await connection.request("POST", f"{API}/events/", json.dumps(factory()).encode())
        return status == 201

    return asyncio.run(run_clients(clients, seconds, post))


def batches(factory: EventFactory, clients: int, seconds: float, size: int):
    sent = 0

    async def post(connection):
        nonlocal sent
        body = json.dumps({"events": [factory() for _ in range(size)]}).encode()
        status, payload = await connection.request("POST", f"{API}/events/batch/", body)
        results = json.loads(payload)["results"] if status == 200 else []
        sent += sum(r["status"] == "applied" for r in results)
        return status == 200 and len(results) == size

    latencies, errors, elapsed = asyncio.run(run_clients(clients, seconds, post))
    return latencies, errors, elapsed, sent


def member_gets(members: int, clients: int, seconds: float):
    rng = random.Random(11)

    async def get(connection):
        status, _ = await connection.request("GET", f"{API}/members/m{rng.randrange(members)}/")
        return status == 200

    return asyncio.run(run_clients(clients, seconds, get))


def member_gets_at_rate(members: int, rate: float, seconds: float):
    """Open loop: GETs sent at a fixed rate whatever the answers' speed, so latency is the service
    time at that load rather than the queue a closed loop of clients builds in front of the workers."""
    rng = random.Random(13)
    latencies: list[float] = []
    errors = 0

    async def get():
        nonlocal errors
        connection = Connection()
        started = time.perf_counter()
        status, _ = await connection.request("GET", f"{API}/members/m{rng.randrange(members)}/")
        latencies.append(time.perf_counter() - started)
        errors += status != 200
        connection.close()

    async def run():
        tasks, started = [], time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(get()))
        await asyncio.gather(*tasks)

    asyncio.run(run())
    return latencies, errors


def floor(events: int) -> float:
    """Seconds for one INSERT ... SELECT writing `events` growth and points earn rows (what the API
    writes for a purchase), inside a transaction that is rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        with connection.cursor() as cursor:
            started = time.perf_counter()
            for table, extra_columns, extra_values in (
                ("loyalty_growthentry", "", ""),
                ("loyalty_pointsentry", ", available_at, released_at, source, reference", ", now(), now(), '', ''"),
            ):
                cursor.execute(
                    f"""INSERT INTO {table} (member_id, kind, amount, remaining, expires_at, reason, created_at,
                                             recorded_at{extra_columns})
                        SELECT m.id, 'earn', 100, 100, now() + interval '1 year', 'floor', now(), now(){extra_values}
                        FROM generate_series(1, %s) g
                        JOIN members_member m ON m.id = 1 + (g %% (SELECT count(*) FROM members_member))""",
                    [events],
                )
            elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--get-rate", type=float, default=100, help="requests/s of the open-loop GET run")
    args = parser.parse_args()

    fresh_database("loyalty_apiperf_bench")
    setup_django()
    key = prepare(args.members)
    HEADERS["Authorization"] = f"Api-Key {key}"
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    server = start_server(args.workers, args.threads)
    try:
        member_gets(args.members, args.clients, 2)  # warm-up, not measured: every worker's first requests
        factory = EventFactory(args.members)
        single = single_events(factory, args.clients, args.seconds)
        batch = batches(factory, max(2, args.clients // 4), args.seconds, args.batch_size)
        gets = member_gets(args.members, args.clients, args.seconds)
        paced_gets = member_gets_at_rate(args.members, args.get_rate, args.seconds)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    floor_seconds = floor(len(single[0]))
    report(args, single, batch, gets, paced_gets, floor_seconds, load)


def _ms(latencies: list[float], share: float) -> str:
    return f"{percentile(latencies, share) * 1000:,.1f}"


def report(args, single, batch, gets, paced_gets, floor_seconds, load: str) -> None:
    single_latencies, single_errors, single_elapsed = single
    batch_latencies, batch_errors, batch_elapsed, batch_events = batch
    get_latencies, get_errors, get_elapsed = gets
    paced_latencies, paced_errors = paced_gets
    batch_clients = max(2, args.clients // 4)
    single_rate = f"{len(single_latencies) / single_elapsed:,.0f}"
    batch_rate = f"{batch_events / batch_elapsed:,.0f}"
    get_rate = f"{len(get_latencies) / get_elapsed:,.0f}"
    floor_rate = f"{len(single_latencies) / floor_seconds:,.0f}"
    command = (
        f"`.venv/bin/python benchmarks/api_ingest.py --members {args.members} --clients {args.clients} "
        f"--seconds {args.seconds:g} --workers {args.workers} --threads {args.threads} --get-rate {args.get_rate:g}`"
    )
    body = f"""
Command: {command}

Data: {args.members:,} members, default program; traffic 50% purchases (log-normal amounts), 35% check-ins,
15% reviews of random members. gunicorn (`--preload`, {args.workers} workers x {args.threads} threads) on
PostgreSQL, the throttle's counters in Redis, warmed up by 2 s of card GETs before the measured phases;
the load generator (a minimal asyncio HTTP/1.1 client, `Connection` in the script) runs on the same
machine. Load average before the run (1/5/15 min): {load}.

| measure | result | target |
|---|---|---|
| single-event POST throughput ({args.clients} clients) | {single_rate} events/s | >= 300 |
| single-event POST latency p50 / p99 | {_ms(single_latencies, 0.5)} / {_ms(single_latencies, 0.99)} ms | |
| batch POST throughput ({batch_clients} clients x {args.batch_size} events) | {batch_rate} events/s | >= 5,000 |
| batch POST latency p50 (one batch) | {_ms(batch_latencies, 0.5)} ms | |
| `GET members/{{id}}/` p50 / p99 ({args.clients} clients, {get_rate} req/s) \
| {_ms(get_latencies, 0.5)} / {_ms(get_latencies, 0.99)} ms | p99 <= 25 ms |
| `GET members/{{id}}/` p50 / p99 at a steady {args.get_rate:g} req/s (open loop) \
| {_ms(paced_latencies, 0.5)} / {_ms(paced_latencies, 0.99)} ms | |
| floor: the same ledger rows by one INSERT ... SELECT | {floor_rate} events/s | |

Errors: single {single_errors}, batch {batch_errors}, GET {get_errors}, paced GET {paced_errors}.
"""
    write_section("api_ingest", body)
    print(body)


if __name__ == "__main__":
    main()
