"""What demo members do and when: personas drawn from long-tailed distributions, and the time-ordered
intents (events to report, chances to redeem points) each persona produces.

Times are POSIX seconds here; the replay turns them into aware datetimes. Nothing in this module
knows the program's rules: what an intent earns is decided only by the replay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from operator import attrgetter

DAY = 86_400.0
HISTORY_DAYS = 730
# >1 puts more joins in recent months: the program grows.
JOIN_RECENCY_SKEW = 1.15
DORMANT_SHARE = 0.3
DORMANT_FOR_AT_LEAST_DAYS = 90

# Not an event type: a chance to pay part of an order with points at checkout (the storefront's
# spend call). Redemptions in the points mall are made by the rewards app's demo step, through its
# redemption service, against the catalog.
SPEND = "spend"

CENT = Decimal("0.01")
SMALLEST_BASKET, LARGEST_BASKET = 1.0, 50_000.0
CHANNELS = ("app", "app", "app", "mini_program", "web", "pos")
PARTNERS = ("bank", "airline", "telecom")
PARTNER_IMPORT_AMOUNTS = (500, 1000, 2000, 3000, 5000)
FULL_RETURN_SHARE = 0.6
SECOND_RETURN_SHARE = 0.3
POINTS_PAYMENTS = (100, 200, 500, 1000, 2000, 5000)


@dataclass(frozen=True, slots=True)
class Intent:
    at: float
    kind: str  # an event type code, or SPEND
    amount: Decimal | None = None
    order_id: str = ""
    original_order_id: str = ""
    data: dict | None = None


@dataclass(frozen=True)
class Persona:
    joined_at: float
    active_until: float  # before now for members who went dormant
    purchases_per_day: float
    basket_median: float
    check_ins_per_day: float
    logins_per_day: float
    activities_per_day: float
    review_share: float
    photo_review_share: float
    profile_completed_after: float | None
    return_share: float
    complaints: int
    violations: int
    points_payments_per_day: float
    partner_imports: int


def join_times(rng: random.Random, count: int, now: float) -> list[float]:
    """When `count` members joined over the history, oldest first (member keys follow this order)."""
    return sorted(now - (HISTORY_DAYS * rng.random() ** JOIN_RECENCY_SKEW + 0.01) * DAY for _ in range(count))


def sample_persona(rng: random.Random, joined_at: float, now: float) -> Persona:
    active_until = now
    dormant_before = now - DORMANT_FOR_AT_LEAST_DAYS * DAY
    if joined_at < dormant_before and rng.random() < DORMANT_SHARE:
        active_until = rng.uniform(joined_at, dormant_before)
    # One propensity drives all the small tasks: engaged members log in, play and review more.
    engagement = rng.lognormvariate(0, 0.8)
    review_share = min(1.0, 0.25 * engagement * rng.random())
    return Persona(
        joined_at=joined_at,
        active_until=active_until,
        # sigma 1.5: the typical member buys every few months, a few heavy buyers every few days.
        purchases_per_day=rng.lognormvariate(math.log(1 / 120), 1.5),
        basket_median=rng.lognormvariate(math.log(300), 0.6),
        check_ins_per_day=_check_in_habit(rng),
        logins_per_day=0.003 * engagement,
        activities_per_day=0.004 * engagement if rng.random() < 0.5 else 0.0,
        review_share=review_share,
        photo_review_share=review_share * rng.random() * 0.5,
        profile_completed_after=rng.expovariate(1 / (3 * DAY)) if rng.random() < 0.65 else None,
        return_share=rng.betavariate(1, 12),
        complaints=rng.choice((1, 1, 2)) if rng.random() < 0.03 else 0,
        violations=1 if rng.random() < 0.006 else 0,
        points_payments_per_day=rng.lognormvariate(math.log(1 / 60), 0.7) if rng.random() < 0.45 else 0.0,
        partner_imports=rng.randint(1, 3) if rng.random() < 0.03 else 0,
    )


def _check_in_habit(rng: random.Random) -> float:
    """Most members never check in, some now and then, a few almost daily."""
    habit = rng.random()
    if habit < 0.6:
        return 0.0
    if habit < 0.98:
        return rng.uniform(0.003, 0.025)
    return rng.uniform(0.15, 0.5)


def plan_intents(
    rng: random.Random, persona: Persona, order_prefix: str, invitees: list[tuple[float, str]]
) -> list[Intent]:
    """Everything the member will do, in time order, none after `active_until`."""
    start, end = persona.joined_at, persona.active_until
    intents: list[Intent] = []
    for number, at in enumerate(poisson_times(rng, persona.purchases_per_day, start, end), start=1):
        intents.extend(_purchase_and_follow_ups(rng, persona, at, f"{order_prefix}-o{number}"))
    for kind, rate in (
        ("check_in", persona.check_ins_per_day),
        ("login", persona.logins_per_day),
        ("activity", persona.activities_per_day),
    ):
        intents.extend(Intent(at, kind) for at in poisson_times(rng, rate, start, end))
    if persona.profile_completed_after is not None and start + persona.profile_completed_after < end:
        intents.append(Intent(start + persona.profile_completed_after, "profile_completed"))
    intents.extend(Intent(at, "invite", data={"invitee": invitee}) for at, invitee in invitees if at < end)
    intents.extend(Intent(rng.uniform(start, end), "complaint") for _ in range(persona.complaints))
    intents.extend(Intent(rng.uniform(start, end), "violation") for _ in range(persona.violations))
    intents.extend(_partner_import(rng, rng.uniform(start, end)) for _ in range(persona.partner_imports))
    payments = poisson_times(rng, persona.points_payments_per_day, start, end)
    intents.extend(Intent(at, SPEND, order_id=f"{order_prefix}-p{n}") for n, at in enumerate(payments, start=1))
    intents.sort(key=attrgetter("at"))
    return intents


def poisson_times(rng: random.Random, per_day: float, start: float, end: float) -> list[float]:
    """A Poisson process: exponential gaps between events at `per_day` on average."""
    times: list[float] = []
    if per_day <= 0:
        return times
    rate = per_day / DAY
    at = start + rng.expovariate(rate)
    while at < end:
        times.append(at)
        at += rng.expovariate(rate)
    return times


def _purchase_and_follow_ups(rng: random.Random, persona: Persona, at: float, order_id: str) -> Iterator[Intent]:
    amount = _money(rng.lognormvariate(math.log(persona.basket_median), 0.8))
    yield Intent(at, "purchase", amount, order_id=order_id, data={"channel": rng.choice(CHANNELS)})
    end = persona.active_until
    if rng.random() < persona.review_share and (review_at := _later(rng, at, 1, 14, end)):
        yield Intent(review_at, "review", order_id=order_id)
    if rng.random() < persona.photo_review_share and (photo_at := _later(rng, at, 1, 14, end)):
        yield Intent(photo_at, "photo_review", order_id=order_id)
    if rng.random() < persona.return_share:
        yield from _returns(rng, at, amount, order_id, end)


def _returns(rng: random.Random, bought_at: float, amount: Decimal, order_id: str, end: float) -> Iterator[Intent]:
    """A full return, or a partial one sometimes followed by a second part."""
    first_at = _later(rng, bought_at, 0.2, 20, end)
    if first_at is None:
        return
    if rng.random() < FULL_RETURN_SHARE:
        yield Intent(first_at, "return", amount, original_order_id=order_id)
        return
    part = max(CENT, _money(float(amount) * rng.uniform(0.1, 0.7), smallest=0))
    yield Intent(first_at, "return", part, original_order_id=order_id)
    second_at = _later(rng, first_at, 0.1, 10, end)
    if second_at is not None and part < amount and rng.random() < SECOND_RETURN_SHARE:
        yield Intent(second_at, "return", amount - part, original_order_id=order_id)


def _partner_import(rng: random.Random, at: float) -> Intent:
    return Intent(
        at,
        "points_import",
        Decimal(rng.choice(PARTNER_IMPORT_AMOUNTS)).quantize(CENT),  # as the API would store it
        data={"partner": rng.choice(PARTNERS)},
    )


def _later(rng: random.Random, after: float, min_days: float, max_days: float, end: float) -> float | None:
    at = after + rng.uniform(min_days, max_days) * DAY
    return at if at < end else None


def _money(value: float, smallest: float = SMALLEST_BASKET) -> Decimal:
    return Decimal(min(max(value, smallest), LARGEST_BASKET)).quantize(CENT, rounding=ROUND_DOWN)


def choose_points_payment(rng: random.Random, spendable: int) -> int | None:
    """Points the member pays with, if they have enough for any of the usual amounts."""
    affordable = [amount for amount in POINTS_PAYMENTS if amount <= spendable]
    return rng.choice(affordable) if affordable else None
