"""Importing partner codes into a code pool (the admin's CSV upload)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.db import transaction

from members.errors import InvalidInput
from members.permissions import require_permission
from rewards.models import CodePool, Coupon, PoolCode

MAX_CODE_LENGTH = 128
HEADER_NAMES = {"code", "codes", "coupon_code"}


@dataclass(frozen=True)
class PoolImport:
    added: int
    duplicates: int  # already in the pool or repeated in the file


def _is_code(value: str) -> bool:
    return 0 < len(value) <= MAX_CODE_LENGTH and value.isprintable()


def parse_codes(text: str) -> list[str]:
    """The first column of each CSV row, trimmed; blank rows and a header row are skipped."""
    codes, problems = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        value = row[0].strip() if row else ""
        if not value or (number == 1 and value.lower() in HEADER_NAMES):
            continue
        if not _is_code(value):
            problems.append(f"line {number}: not a code (printable, at most {MAX_CODE_LENGTH} characters)")
        codes.append(value)
    if problems:
        raise InvalidInput("The file has lines that are not codes.", fields={"file": problems[:20]})
    if not codes:
        raise InvalidInput("The file has no codes.", fields={"file": ["No codes found."]})
    return codes


@transaction.atomic
def import_pool_codes(*, pool: CodePool, text: str, actor=None) -> PoolImport:
    """Add the file's codes to the pool as available. Codes already in the pool are skipped; codes that
    are some member's coupon already are refused (a coupon pool's codes become coupon codes). A staff
    `actor` needs rewards.change_codepool."""
    require_permission(actor, "rewards.change_codepool", IMPORT_REFUSED)
    codes = parse_codes(text)
    unique = list(dict.fromkeys(codes))
    clashing = list(Coupon.objects.filter(code__in=unique).values_list("code", flat=True)[:20])
    if clashing:
        raise InvalidInput("Some codes are already issued coupons.", fields={"file": clashing})
    before = PoolCode.objects.filter(pool=pool).count()
    PoolCode.objects.bulk_create((PoolCode(pool=pool, code=code) for code in unique), ignore_conflicts=True)
    added = PoolCode.objects.filter(pool=pool).count() - before
    return PoolImport(added=added, duplicates=len(codes) - added)


IMPORT_REFUSED = "You may not import codes into code pools."


@transaction.atomic
def add_pool_code(*, pool: CodePool, code: str, actor=None) -> PoolCode:
    """One code into the pool as available (the admin's spreadsheet import calls this per row).
    Refused when it is not a code, is in the pool already, or is some member's coupon already. A
    staff `actor` needs rewards.change_codepool, as for import_pool_codes."""
    require_permission(actor, "rewards.change_codepool", IMPORT_REFUSED)
    code = code.strip()
    if not _is_code(code):
        raise InvalidInput("Not a code.", fields={"code": [f"Printable, 1 to {MAX_CODE_LENGTH} characters."]})
    if PoolCode.objects.filter(pool=pool, code=code).exists():
        raise InvalidInput(f"{code} is in the pool already.", fields={"code": ["Already in the pool."]})
    if Coupon.objects.filter(code=code).exists():
        raise InvalidInput(f"{code} is an issued coupon already.", fields={"code": ["Already an issued coupon."]})
    return PoolCode.objects.create(pool=pool, code=code)
