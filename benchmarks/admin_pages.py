"""Admin page benchmark (not a test): how long the operations admin's pages take to render on the
1,000,000-member data set of monthly_run.py (about 20 ledger rows per member), PostgreSQL.

    .venv/bin/python benchmarks/admin_pages.py [--members 1000000] [--repeat 5]

Needs the data kept by `benchmarks/monthly_run.py --reuse-data` (database
loyalty_bench_jobs_data_<members>); clones it, gives the members phones and emails, and renders each
page in-process with Django's test client as a superuser: the first (cold) time, then the median and
the slowest of --repeat more. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import clone_database, database_exists, setup_django, write_section  # noqa: E402

TARGET_SECONDS = 1.0


def prepare(members: int) -> None:
    template = f"loyalty_bench_jobs_data_{members}"
    if not database_exists(template):
        sys.exit(f"No {template}: run `benchmarks/monthly_run.py --members {members} --reuse-data` first.")
    clone_database(template, "loyalty_bench_admin")
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE members_member SET phone = '139' || lpad(id::text, 8, '0'), email = 'm' || id || '@example.com',"
            " status = CASE WHEN id % 1000 = 0 THEN 'frozen' ELSE status END"
        )
        cursor.execute("VACUUM ANALYZE members_member")


def pages(client, members: int) -> list[tuple[str, str, dict | None]]:
    from loyalty.models import Tier

    gold = Tier.objects.get(code="gold").pk
    middle = members // 2
    thresholds = {t.code: t.threshold + (500 if t.rank else 0) for t in Tier.objects.all()}
    return [
        ("dashboard (snapshot cached)", "/admin/", None),
        ("members, first page", "/admin/members/member/", None),
        ("members, tier = gold", f"/admin/members/member/?tier__id__exact={gold}", None),
        ("members, status = frozen", "/admin/members/member/?status__exact=frozen", None),
        (
            "members, joined in a date range",
            "/admin/members/member/?joined_at__range__gte=2024-01-01&joined_at__range__lte=2025-12-31",
            None,
        ),
        ("members, search by phone", f"/admin/members/member/?q=139{middle:08d}", None),
        ("members, search by email", f"/admin/members/member/?q=M{middle}@EXAMPLE.com", None),
        ("members, search by name prefix", f"/admin/members/member/?q=Member%20{middle // 10}", None),
        ("member 360 page", f"/admin/members/member/{middle}/change/", None),
        ("points ledger, first page", "/admin/loyalty/pointsentry/", None),
        ("points ledger, one member", f"/admin/loyalty/pointsentry/?member={middle}", None),
        ("points ledger, kind = expire", "/admin/loyalty/pointsentry/?kind__exact=expire", None),
        ("growth ledger, search by external id", f"/admin/loyalty/growthentry/?q=b{middle}", None),
        ("tier changes, first page", "/admin/loyalty/tierchange/", None),
        ("tiers with member counts", "/admin/loyalty/tier/", None),
        ("tier what-if preview", "/admin/loyalty/tier/what-if/", {**thresholds, "step": "preview"}),
        ("job runs", "/admin/loyalty/jobrun/", None),
    ]


def render(client, path: str, form: dict | None) -> float:
    started = time.perf_counter()
    response = client.post(path, form) if form is not None else client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    prepare(args.members)

    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client

    from loyalty.selectors.dashboard import refresh_dashboard
    from members.models import Member

    cache.clear()
    started = time.perf_counter()
    refresh_dashboard()
    snapshot_seconds = time.perf_counter() - started
    print(f"dashboard snapshot computed in {snapshot_seconds:.2f} s", flush=True)

    admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    rows = []
    for label, path, form in pages(client, args.members):
        cold = render(client, path, form)
        warm = [render(client, path, form) for _ in range(args.repeat)]
        rows.append((label, cold, statistics.median(warm), max(warm)))
        print(f"{label}: cold {cold:.3f} s, median {statistics.median(warm):.3f} s", flush=True)
    report(args, Member.objects.count(), snapshot_seconds, rows)


def report(args, members: int, snapshot_seconds: float, rows) -> None:
    lines = [
        "## Admin pages at a million members",
        "",
        f"`.venv/bin/python benchmarks/admin_pages.py --members {args.members} --repeat {args.repeat}` — "
        f"{members:,} members with about 20 ledger rows each (monthly_run.py's data, phones and emails added, "
        "one in a thousand frozen); each page rendered in-process by Django's test client as a superuser "
        "(server-side time, no network or browser), once cold and then "
        f"{args.repeat} more times. Target: every page under {TARGET_SECONDS:.0f} s.",
        "",
        f"The dashboard's figures (all aggregates) take **{snapshot_seconds:.2f} s** to compute; the page reads "
        "the snapshot the `dashboard: refresh figures` schedule stores every 5 minutes.",
        "",
        "| page | cold | median | slowest | under 1 s |",
        "|---|---:|---:|---:|:---:|",
    ]
    for label, cold, median, slowest in rows:
        ok = "yes" if max(median, slowest) < TARGET_SECONDS else "**no**"
        lines.append(f"| {label} | {cold * 1000:.0f} ms | {median * 1000:.0f} ms | {slowest * 1000:.0f} ms | {ok} |")
    write_section("admin-pages", "\n".join(lines))
    print("Wrote docs/benchmarks.md", flush=True)


if __name__ == "__main__":
    main()
