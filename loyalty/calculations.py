"""Pure rule arithmetic: what an event earns, which tier a growth value gives, when a lot expires.

Nothing here touches the database, so every rule can be tested (and reused by the bulk demo
generator and the set-based jobs) without one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

ROLLING_MONTHS = "rolling_months"
CALENDAR_YEAR = "calendar_year"
NEVER = "never"

DOWNGRADE_NEVER = "never"
DOWNGRADE_ONE_TIER = "one_tier"
DOWNGRADE_TO_QUALIFYING = "to_qualifying"


# --- time -----------------------------------------------------------------------------------------


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The program day an instant falls on."""
    return at.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def next_period_start(period_format: str, now: datetime, zone: ZoneInfo) -> datetime:
    """The first instant of the job period after the one `now` falls in, for a period written with
    `period_format` in the program's zone: the next hour ("%H"), the next local midnight ("%d"), or
    the 1st of next month (otherwise). A dry run as of then shows what the next run will do."""
    local = now.astimezone(zone)
    if "%H" in period_format:
        return (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(zone)
    if "%d" in period_format:
        return start_of_day(local.date() + timedelta(days=1), zone)
    first = local.date().replace(day=1)
    return start_of_day((first + timedelta(days=32)).replace(day=1), zone)


def expiry_at(policy: str, months: int, earned_at: datetime, zone: ZoneInfo) -> datetime | None:
    """When something earned at `earned_at` expires (exclusive: it is gone from that instant).

    - rolling_months: it stays through the same calendar day `months` months later and expires at the
      next local midnight (earned 2026-01-15 14:00, 12 months -> expires 2027-01-16 00:00).
    - calendar_year: it counts for the year it was earned in and the next one: expires on 1 January
      of the year after next, 00:00 local.
    - never: None.
    """
    if policy == NEVER:
        return None
    return _expiry_for_day(policy, months, local_day(earned_at, zone), zone)


@functools.lru_cache(maxsize=4096)
def _expiry_for_day(policy: str, months: int, day: date, zone: ZoneInfo) -> datetime:
    """expiry_at depends only on the local day: a batch earns thousands of lots on a few days."""
    if policy == ROLLING_MONTHS:
        return start_of_day(day + relativedelta(months=months) + timedelta(days=1), zone)
    if policy == CALENDAR_YEAR:
        return start_of_day(date(day.year + 2, 1, 1), zone)
    raise ValueError(f"Unknown expiry policy {policy!r}")


# --- earning ----------------------------------------------------------------------------------------


def to_whole(value: Decimal) -> int:
    """Round toward zero: earnings round down, and a deduction never takes a fraction more."""
    return int(value.to_integral_value(rounding=ROUND_DOWN))


class RuleTerms(Protocol):
    growth: int
    points: int
    growth_per_unit: Decimal
    points_per_unit: Decimal
    apply_tier_multiplier: bool
    daily_limit: int | None
    lifetime_limit: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    is_active: bool


@dataclass(frozen=True)
class Earning:
    growth: int
    points: int


def rule_applies_at(rule: RuleTerms, at: datetime) -> bool:
    if not rule.is_active:
        return False
    if rule.starts_at is not None and at < rule.starts_at:
        return False
    return rule.ends_at is None or at < rule.ends_at


def rule_within_limits(rule: RuleTerms, hits_today: int, hits_ever: int) -> bool:
    if rule.daily_limit is not None and hits_today >= rule.daily_limit:
        return False
    return rule.lifetime_limit is None or hits_ever < rule.lifetime_limit


def rule_earning(rule: RuleTerms, amount: Decimal | None, multiplier: Decimal) -> Earning:
    base = amount or Decimal("0")
    growth = Decimal(rule.growth) + rule.growth_per_unit * base
    points = Decimal(rule.points) + rule.points_per_unit * base
    if rule.apply_tier_multiplier:
        points *= multiplier
    return Earning(growth=to_whole(growth), points=to_whole(points))


# The most growth or points one rule may give or take for one event: far above any real purchase,
# far below what a 64-bit balance holds, so balances cannot overflow through ordinary events.
MAX_EARNING = 10**15


def earning_in_bounds(earning: Earning) -> bool:
    return abs(earning.growth) <= MAX_EARNING and abs(earning.points) <= MAX_EARNING


def reversal_due(earned: int, order_amount: Decimal, refunded_total: Decimal, already_reversed: int) -> int:
    """What a return must reverse now so that the order's total reversal is
    round-down(earned x refunded so far / order amount)."""
    if order_amount <= 0 or earned <= 0:
        return 0
    target = to_whole(Decimal(earned) * refunded_total / order_amount)
    return max(target - already_reversed, 0)


# --- tiers ------------------------------------------------------------------------------------------


class LadderError(ValueError):
    pass


@dataclass(frozen=True)
class TierStep:
    code: str
    rank: int
    threshold: int


class Step(Protocol):
    """Anything with code, rank and threshold: a TierStep or a Tier row."""

    @property
    def code(self) -> str: ...
    @property
    def rank(self) -> int: ...
    @property
    def threshold(self) -> int: ...


T = TypeVar("T", bound=Step)


def validate_ladder(steps: Iterable[T]) -> list[T]:
    """Return the ladder ordered by rank, or raise LadderError saying what is wrong."""
    ladder = sorted(steps, key=lambda s: s.rank)
    if not ladder:
        raise LadderError("The program needs at least one tier.")
    codes = [s.code for s in ladder]
    if len(set(codes)) != len(codes):
        raise LadderError("Tier codes must be unique.")
    if ladder[0].threshold != 0:
        raise LadderError(f"The lowest tier ({ladder[0].code}) must have threshold 0, not {ladder[0].threshold}.")
    for lower, upper in zip(ladder, ladder[1:], strict=False):
        if upper.rank == lower.rank:
            raise LadderError(f"Tiers {lower.code} and {upper.code} share rank {upper.rank}.")
        if upper.threshold <= lower.threshold:
            raise LadderError(
                f"Thresholds must ascend with rank: {upper.code} (rank {upper.rank}) needs more than "
                f"{lower.threshold}, the threshold of {lower.code}."
            )
    return ladder


def qualifying_tier(ladder: Sequence[T], growth: int) -> T:
    """The highest tier whose threshold the growth value reaches (equal qualifies). Ladder by rank."""
    best = ladder[0]
    for step in ladder:
        if growth >= step.threshold:
            best = step
    return best


def recalculated_tier(ladder: Sequence[T], current: T, growth: int, policy: str) -> T:
    """The tier a scheduled recalculation gives: upgrades always, downgrades per the policy."""
    target = qualifying_tier(ladder, growth)
    if target.rank >= current.rank or policy == DOWNGRADE_NEVER:
        return target if target.rank >= current.rank else current
    if policy == DOWNGRADE_TO_QUALIFYING:
        return target
    if policy == DOWNGRADE_ONE_TIER:
        below = [s for s in ladder if s.rank < current.rank]
        return max(below, key=lambda s: s.rank) if below else current
    raise ValueError(f"Unknown downgrade policy {policy!r}")


# --- lots -------------------------------------------------------------------------------------------


L = TypeVar("L")  # a lot, as the caller holds it (a ledger row, a demo row)


@dataclass(frozen=True)
class Take(Generic[L]):
    lot: L
    amount: int


def plan_consumption(lots: Iterable[tuple[L, int]], amount: int) -> tuple[list[Take[L]], int]:
    """Take `amount` from lots in the order given; return the takes and what could not be covered."""
    takes: list[Take[L]] = []
    left = amount
    for lot, remaining in lots:
        if left <= 0:
            break
        take = min(remaining, left)
        if take > 0:
            takes.append(Take(lot, take))
            left -= take
    return takes, left
