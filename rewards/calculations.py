"""Pure rewards arithmetic: value per point, limit windows, coupon validity and usability, period keys,
fulfilment transitions, coupon codes. No database here, so every rule is testable on its own."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from loyalty.calculations import local_day, start_of_day

DAY, MONTH, YEAR, EVER = "day", "month", "year", "ever"

# No 0/O, 1/I/L: codes are read aloud at tills and typed from screenshots.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12


def value_per_point(cash_value: Decimal, points_cost: int) -> Decimal:
    """What one point buys through this reward, in the program currency (4 places)."""
    if points_cost <= 0:
        raise ValueError("points_cost must be positive")
    return (cash_value / points_cost).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def exceeds_budget(cash_value: Decimal, points_cost: int, target_value_per_point: Decimal | None) -> bool:
    """The cost guard: a reward that pays out more per point than the program budgets for."""
    if target_value_per_point is None or points_cost <= 0:
        return False
    return cash_value > target_value_per_point * points_cost


def cash_value_of_points(points: int, point_value: Decimal) -> Decimal:
    return (point_value * points).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def limit_window(period: str, now: datetime, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The [start, end) window a per-member limit counts in, in the program's time zone.
    `ever` has no bounds."""
    day = local_day(now, zone)
    if period == DAY:
        return start_of_day(day, zone), start_of_day(day + timedelta(days=1), zone)
    if period == MONTH:
        first = day.replace(day=1)
        return start_of_day(first, zone), start_of_day(first + relativedelta(months=1), zone)
    if period == YEAR:
        return start_of_day(date(day.year, 1, 1), zone), start_of_day(date(day.year + 1, 1, 1), zone)
    if period == EVER:
        return None, None
    raise ValueError(f"Unknown limit period {period!r}")


def month_key(at: datetime, zone: ZoneInfo) -> str:
    """The benefit period of monthly entitlements: 2026-11."""
    return f"{at.astimezone(zone):%Y-%m}"


def year_key(at: datetime, zone: ZoneInfo) -> str:
    """The benefit period of yearly entitlements (birthday gifts): 2026."""
    return f"{at.astimezone(zone):%Y}"


@dataclass(frozen=True)
class ValidityTerms:
    valid_from: datetime | None  # fixed window
    valid_until: datetime | None
    valid_days: int | None  # or N days from issue
    inactive_days: int


def coupon_validity(terms: ValidityTerms, issued_at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """When a coupon issued at `issued_at` may be used: [valid_from, valid_until).

    - Fixed dates: the template's window (a coupon issued inside it is valid from issue).
    - N days from issue: valid through the Nth program day after the day of issue (issued 2026-11-01
      10:00 with 30 days -> until 2026-12-01 00:00 local), so a coupon never dies mid-afternoon.
    - inactive_days delays the start to the local midnight that many days after issue.
    """
    start = issued_at
    if terms.inactive_days:
        start = start_of_day(local_day(issued_at, zone) + timedelta(days=terms.inactive_days), zone)
    if terms.valid_days is not None:
        return start, start_of_day(local_day(issued_at, zone) + timedelta(days=terms.valid_days), zone)
    if terms.valid_until is None:
        raise ValueError("A coupon template needs fixed dates or a number of days.")
    if terms.valid_from is not None and terms.valid_from > start:
        start = terms.valid_from
    return start, terms.valid_until


ACTIVE, USED, EXPIRED, VOID = "active", "used", "expired", "void"


def coupon_unusable_reason(
    *,
    status: str,
    valid_from: datetime,
    valid_until: datetime,
    now: datetime,
    min_spend: Decimal,
    order_amount: Decimal | None,
) -> str | None:
    """Why a coupon cannot be used now, as a stable reason code; None when it can."""
    if status == USED:
        return "already_used"
    if status == VOID:
        return "void"
    if status == EXPIRED or now >= valid_until:
        return "expired"
    if now < valid_from:
        return "not_yet_valid"
    if order_amount is not None and order_amount < min_spend:
        return "below_minimum_spend"
    return None


PENDING, SHIPPED, DELIVERED, COMPLETED, CANCELLED = "pending", "shipped", "delivered", "completed", "cancelled"

# Goods move pending -> shipped -> delivered; digital rewards are completed at once. Cancelling is
# possible until something has left the warehouse.
TRANSITIONS = {
    PENDING: {SHIPPED, CANCELLED},
    SHIPPED: {DELIVERED},
    COMPLETED: {CANCELLED},
    DELIVERED: set(),
    CANCELLED: set(),
}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, set())


def new_coupon_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A random 12-character code (31^12 ≈ 7.9e17 values); the unique constraint catches the rare clash."""
    return "".join(CODE_ALPHABET[randbelow(len(CODE_ALPHABET))] for _ in range(CODE_LENGTH))
