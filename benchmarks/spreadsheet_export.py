"""Spreadsheet export benchmark (not a test): how long the admin's points-ledger export takes to
build a CSV or XLSX file of N rows, and the process's peak memory. The rows are made in memory and
go through the real resource (PointsEntryResource, formula neutralising included) and the library's
formats; the database read (QuerySet.iterator in chunks) is left out. The figures set the export
limits (LOYALTY_EXPORT_MAX_ROWS, LOYALTY_EXPORT_MAX_XLSX_ROWS; docs/admin.md).

    .venv/bin/python benchmarks/spreadsheet_export.py [--rows 10000 20000 100000]

Writes docs/benchmarks.md.
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

from benchmarks.support import setup_django, write_section  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 20_000, 100_000])
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
    write_section(
        "spreadsheet_export",
        f"""## Spreadsheet export (admin)

Command: `.venv/bin/python benchmarks/spreadsheet_export.py --rows {" ".join(map(str, args.rows))}`

The points ledger's export resource (15 columns) on rows made in memory, through the library's CSV
and XLSX formats; the database read is left out. Peak memory is the whole process's.

| rows | format | time | file | peak memory |
|---|---|---|---|---|
{chr(10).join(lines)}

XLSX is written by openpyxl cell by cell, about 2.5 times slower than CSV: hence the export limits
of 50,000 rows as CSV and 20,000 as XLSX, each about 12 s here plus the database read (docs/admin.md).""",
    )


if __name__ == "__main__":
    main()
