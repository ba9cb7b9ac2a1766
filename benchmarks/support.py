"""Shared plumbing for the benchmarks: a scratch PostgreSQL database, Django set up against it, and
writing figures into docs/benchmarks.md between per-benchmark markers."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"
PG_SERVER = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
# The benchmarks run the project without DEBUG, as production does, which needs a secret key.
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-benchmark-only-secret-key")


def fresh_database(name: str) -> str:
    """Drop and create database `name`; return its URL. Also points this process's Django at it."""
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True)
    url = f"{PG_SERVER}/{name}"
    os.environ["DATABASE_URL"] = url
    return url


def _psql(sql: str) -> str:
    return subprocess.run(
        ["psql", f"{PG_SERVER}/postgres", "-qAtc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def database_exists(name: str) -> bool:
    return _psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"


def database_comment(name: str) -> str:
    return _psql(f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'")


def keep_database(source: str, copy: str, *, comment: str) -> None:
    """A file-level copy of `source` (nobody may be connected to it) named `copy`, with a comment."""
    _psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
    _psql(f"COMMENT ON DATABASE \"{copy}\" IS '{comment}'")


def clone_database(template: str, name: str) -> str:
    """Database `name` as a copy of `template`; return its URL and point this process's Django at it."""
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = f"{PG_SERVER}/{name}"
    os.environ["DATABASE_URL"] = url
    return url


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def manage(*args: str, env: dict | None = None) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env={**os.environ, **(env or {})})


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}, {postgres}"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between <!-- name:start --> and <!-- name:end -->."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    stamped = f"{start}\n_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}._\n\n{body.strip()}\n{end}"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: stamped, text) if pattern.search(text) else text.rstrip() + "\n\n" + stamped + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def purchases(prefix: str, count: int, members: int, first_serial: int) -> list[dict]:
    """`count` purchase events (amounts 80 to 479) spread over the members `{prefix}-0` ..
    `{prefix}-{members - 1}`, numbered from `first_serial` (event and order ids)."""
    return [
        {
            "event_id": f"e{serial}",
            "member": f"{prefix}-{n % members}",
            "type": "purchase",
            "amount": str(80 + serial % 400),
            "order_id": f"o{serial}",
        }
        for n, serial in enumerate(range(first_serial, first_serial + count))
    ]
