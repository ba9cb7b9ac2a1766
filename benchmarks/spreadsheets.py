"""Spreadsheet benchmarks (not tests) behind the admin's import and export limits (docs/admin.md).

Export: how long the points-ledger export takes to build a CSV or XLSX file of N rows, and the
process's peak memory. The rows are made in memory and go through the real resource
(PointsEntryResource, formula neutralising included) and the library's formats; the database read
(QuerySet.iterator in chunks) is left out. Each case runs in a fresh subprocess.

Import: how long the member and pool-code imports take per row on PostgreSQL (a scratch database),
for the preview (a dry run) and the confirmed import, through the resources and their services.

    .venv/bin/python benchmarks/spreadsheets.py [--rows 10000 50000] [--import-rows 2000]

Needs PostgreSQL on 127.0.0.1 for the imports. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.support import fresh_database, manage, setup_django, write_section  # noqa: E402


def measure(file_format: str, rows: int) -> dict:
    """One export in this process (run in a fresh subprocess per case, for its peak memory)."""
    setup_django()
    import tablib
    from django.utils import timezone
    from import_export.formats.base_formats import CSV, XLSX

    from loyalty.models import PointsEntry
    from loyalty.resources import PointsEntryResource
    from members.models import Member

    now = timezone.now()
    entries = []
    for index in range(rows):
        member = Member(pk=index + 1, external_id=f"member-{index:07d}")
        entries.append(
            PointsEntry(
                pk=index + 1,
                member=member,
                kind="earn",
                amount=120,
                remaining=120,
                available_at=now,
                expires_at=now,
                created_at=now,
                reason="Purchase of order 12345",
            )
        )
    formats = {"csv": CSV, "xlsx": XLSX}
    started = time.perf_counter()
    export = PointsEntryResource()
    # Resource.export() row by row, without its queryset steps (select_related, iterator).
    dataset = tablib.Dataset(headers=export.get_export_headers())
    for entry in entries:
        dataset.append(export.export_resource(entry, force_native_type=file_format == "xlsx"))
    content = formats[file_format]().export_data(dataset)
    return {
        "seconds": time.perf_counter() - started,
        "megabytes": len(content) / 2**20,
        "peak_megabytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure_imports(rows: int) -> list[str]:
    fresh_database("loyalty_bench_spreadsheets")
    manage("migrate", "-v0")
    setup_django()
    import tablib

    from loyalty.backoffice.member_resources import MemberImportResource
    from rewards.models import CodePool
    from rewards.resources import PoolCodeResource

    members = tablib.Dataset(headers=["external_id", "name", "email", "phone", "birthday"])
    codes = tablib.Dataset(headers=["pool", "code"])
    CodePool.objects.create(code="bench", name="Benchmark pool")
    for index in range(rows):
        members.append([f"m-{index:07d}", f"Member {index}", f"m{index}@example.com", f"138{index:08d}", "1990-01-01"])
        codes.append(["bench", f"CODE-{index:07d}"])
    lines = []
    for label, resource_class, dataset in (
        ("members (enrol)", MemberImportResource, members),
        ("pool codes", PoolCodeResource, codes),
    ):
        for step, dry_run in (("preview (dry run)", True), ("confirm", False)):
            started = time.perf_counter()
            result = resource_class().import_data(dataset, dry_run=dry_run)
            seconds = time.perf_counter() - started
            assert not result.has_errors() and not result.has_validation_errors()
            lines.append(f"| {label} | {rows:,} | {step} | {seconds:.1f} s | {seconds / rows * 1000:.1f} ms |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--import-rows", type=int, default=2_000)
    parser.add_argument("--one", nargs=2, metavar=("FORMAT", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    lines = []
    for rows in args.rows:
        for file_format in ("csv", "xlsx"):
            run = subprocess.run(
                [sys.executable, __file__, "--one", file_format, str(rows)], check=True, capture_output=True, text=True
            )
            result = json.loads(run.stdout.strip().splitlines()[-1])
            lines.append(
                f"| {rows:,} | {file_format.upper()} | {result['seconds']:.1f} s | {result['megabytes']:.1f} MB "
                f"| {result['peak_megabytes']:.0f} MB |"
            )
            print(lines[-1], flush=True)
    imports = measure_imports(args.import_rows)
    row_counts = " ".join(map(str, args.rows))
    command = f".venv/bin/python benchmarks/spreadsheets.py --rows {row_counts} --import-rows {args.import_rows}"
    write_section(
        "spreadsheets",
        f"""## Spreadsheets (admin import and export)

Command: `{command}`

Export: the points ledger's export resource (15 columns) on rows made in memory, through the
library's CSV and XLSX formats; the database read is left out. Peak memory is the whole process's.

| rows | format | time | file | peak memory |
|---|---|---|---|---|
{chr(10).join(lines)}

XLSX is written by openpyxl cell by cell, about 2.5 times slower than CSV: hence the export limits
of 50,000 rows as CSV and 20,000 as XLSX, each about 15 s here plus the database read, within
gunicorn's 30 s worker timeout.

Import on PostgreSQL, row by row through the services (a member: enrol_member; a code:
add_pool_code), each row in its own savepoint, with the preview's per-row diff:

| import | rows | step | time | per row |
|---|---|---|---|---|
{chr(10).join(imports)}

Hence at most 2,000 rows per imported file: the preview and the confirmation are each one request.""",
    )


if __name__ == "__main__":
    main()
