"""Time-to-tier forecasts (the articles' step 8): a persona's climb simulated day by day with the
program's rules, and the three default personas (does everything / does some / does the minimum).

A persona makes one purchase of `daily_spend` a day (none when it is 0) and reports each event type
of `events_per_day` that many times a day, purchase first, then the types in the persona's order.
Rules apply as the engine applies them: active windows, daily and lifetime limits, deductions that
never take growth below zero (ignored in one-way growth mode), growth lots that expire with the
growth window. Tier multipliers scale points only, so they do not change the climb.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from loyalty.calculations import RuleTerms, expiry_at, rule_applies_at, rule_earning, rule_within_limits

# Ten years: a tier not reached by then is reported as never reached.
HORIZON_DAYS = 3653
PURCHASE = "purchase"
RETURN = "return"
NO_MULTIPLIER = Decimal(1)


class PersonaError(ValueError):
    pass


@dataclass(frozen=True)
class Persona:
    daily_spend: Decimal
    events_per_day: dict[str, int] = field(default_factory=dict)
    name: str = ""

    def as_json(self) -> dict:
        return {"daily_spend": f"{self.daily_spend}", "events_per_day": dict(self.events_per_day)}


@dataclass(frozen=True)
class GrowthProgram:
    """What the climb depends on: the active rules by event type (each in code order), the growth
    window, whether deductions apply, and the ladder as (code, threshold), lowest first."""

    rules_by_event_type: Mapping[str, Sequence[RuleTerms]]
    growth_window_policy: str
    growth_window_months: int
    deducts_growth: bool
    zone: ZoneInfo
    ladder: Sequence[tuple[str, int]]


@dataclass(frozen=True)
class Forecast:
    growth_per_day: int  # the first day's growth
    days_to_tier: dict[str, int | None]  # None: not reached within HORIZON_DAYS
    spend_to_tier: dict[str, Decimal | None]

    def as_json(self) -> dict:
        return {
            "growth_per_day": self.growth_per_day,
            "days_to_tier": dict(self.days_to_tier),
            "spend_to_tier": {
                code: None if money is None else f"{money}" for code, money in self.spend_to_tier.items()
            },
        }


def parse_persona(data: object, event_types: frozenset[str], *, name: str = "") -> Persona:
    """A persona from its JSON form, {"daily_spend": "100", "events_per_day": {"check_in": 1}}."""
    if not isinstance(data, dict):
        raise PersonaError(_("A persona is a JSON object with daily_spend and events_per_day."))
    unknown = set(data) - {"daily_spend", "events_per_day"}
    if unknown:
        raise PersonaError(_("Unknown persona keys: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
    try:
        spend = Decimal(str(data.get("daily_spend", "0")))
    except InvalidOperation as exc:
        raise PersonaError(_('daily_spend must be an amount of money, e.g. "100".')) from exc
    exponent = spend.as_tuple().exponent  # 'n', 'N' or 'F' for the values is_finite() refuses
    if not spend.is_finite() or spend < 0 or (isinstance(exponent, int) and exponent < -2):
        raise PersonaError(_("daily_spend must be an amount ≥ 0 with at most 2 decimal places."))
    events = data.get("events_per_day", {})
    if not isinstance(events, dict):
        raise PersonaError(_('events_per_day maps event types to how many times a day, e.g. {"check_in": 1}.'))
    for code, count in events.items():
        if code in (PURCHASE, RETURN):
            raise PersonaError(
                _("%(type)s cannot be in events_per_day: a persona buys through daily_spend.") % {"type": code}
            )
        if code not in event_types:
            raise PersonaError(_("Unknown event type %(type)s.") % {"type": code})
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise PersonaError(_("%(type)s: times a day must be a whole number ≥ 0.") % {"type": code})
    return Persona(spend, {code: count for code, count in events.items() if count}, name)


def forecast(persona: Persona, program: GrowthProgram, start: date, *, horizon_days: int = HORIZON_DAYS) -> Forecast:
    """Day 1 is `start` (a program day); a tier is reached on the first day whose held growth at the
    day's end meets its threshold."""
    climb = _Climb(program)
    reached: dict[str, int | None] = {code: None for code, _threshold in program.ladder}
    first_day_growth = 0
    for day_number in range(1, horizon_days + 1):
        held = climb.live_day(start + timedelta(days=day_number - 1), persona)
        if day_number == 1:
            first_day_growth = held
        for code, threshold in program.ladder:
            if reached[code] is None and held >= threshold:
                reached[code] = day_number
        if all(day is not None for day in reached.values()):
            break
    return Forecast(
        growth_per_day=first_day_growth,
        days_to_tier=reached,
        spend_to_tier={
            code: None if days is None else (persona.daily_spend * days).quantize(Decimal("0.01"))
            for code, days in reached.items()
        },
    )


class _Climb:
    """One member's growth lots (soonest-expiring first) and rule hits, day after day."""

    def __init__(self, program: GrowthProgram):
        self.program = program
        self.lots: deque[list] = deque()  # [expiry day or None, remaining]
        self.held = 0
        self.hits_ever: dict[int, int] = defaultdict(int)

    def live_day(self, day: date, persona: Persona) -> int:
        while self.lots and self.lots[0][0] is not None and self.lots[0][0] <= day:
            self.held -= self.lots.popleft()[1]
        at = datetime.combine(day, time(12), tzinfo=self.program.zone)
        hits_today: dict[int, int] = defaultdict(int)
        if persona.daily_spend > 0:
            self._event(PURCHASE, persona.daily_spend, at, day, hits_today)
        for event_type, times in persona.events_per_day.items():
            for _time in range(times):
                self._event(event_type, None, at, day, hits_today)
        return self.held

    def _event(self, event_type: str, amount: Decimal | None, at: datetime, day: date, hits_today) -> None:
        for rule in self.program.rules_by_event_type.get(event_type, ()):
            key = id(rule)
            if not rule_applies_at(rule, at) or not rule_within_limits(rule, hits_today[key], self.hits_ever[key]):
                continue
            hits_today[key] += 1
            self.hits_ever[key] += 1
            growth = rule_earning(rule, amount, NO_MULTIPLIER).growth
            if growth > 0:
                self._credit(growth, at)
            elif growth < 0 and self.program.deducts_growth:
                self._debit(-growth)

    def _credit(self, growth: int, at: datetime) -> None:
        program = self.program
        expires = expiry_at(program.growth_window_policy, program.growth_window_months, at, program.zone)
        self.lots.append([None if expires is None else expires.astimezone(program.zone).date(), growth])
        self.held += growth

    def _debit(self, growth: int) -> None:
        """Soonest-expiring lots first, never below zero."""
        left = growth
        for lot in self.lots:
            take = min(lot[1], left)
            lot[1] -= take
            left -= take
            if not left:
                break
        self.held -= growth - left


# --- the default personas ---------------------------------------------------------------------------

DEFAULT_DAILY_SPEND = {"everything": Decimal("100"), "some": Decimal("30"), "minimum": Decimal("10")}


def default_personas(rules_by_event_type: Mapping[str, Sequence[RuleTerms]]) -> list[Persona]:
    """A: every task at its daily limit; B: every task once a day; C: only the daily habits (tasks
    limited to once a day, such as check-in and login) and one-off tasks. A task is an event type
    other than purchase and return with an active rule that gives fixed growth; spend per day is
    DEFAULT_DAILY_SPEND. Operators edit all of it."""
    tasks = {
        code: [rule for rule in rules if rule.growth > 0]
        for code, rules in rules_by_event_type.items()
        if code not in (PURCHASE, RETURN)
    }
    tasks = {code: rules for code, rules in tasks.items() if rules}
    everything = {code: max(rule.daily_limit or 1 for rule in rules) for code, rules in tasks.items()}
    habits = {
        code: 1
        for code, rules in tasks.items()
        if all(rule.daily_limit == 1 or rule.lifetime_limit is not None for rule in rules)
    }
    return [
        Persona(DEFAULT_DAILY_SPEND["everything"], everything, _("A: does everything")),
        Persona(DEFAULT_DAILY_SPEND["some"], dict.fromkeys(tasks, 1), _("B: does some")),
        Persona(DEFAULT_DAILY_SPEND["minimum"], habits, _("C: does the minimum")),
    ]


def median_of_counts(counts: Sequence[tuple[int, int]]) -> Decimal | None:
    """The median of values given as (value, how many times), as PostgreSQL's percentile_cont(0.5)
    gives it: the middle value, or the mean of the two middle ones for an even count; None for none."""
    total = sum(times for _value, times in counts)
    if total == 0:
        return None
    wanted = {(total - 1) // 2, total // 2}  # the 0-based positions of the middle value(s)
    middle: list[int] = []
    seen = 0
    for value, times in sorted(counts):
        middle += [value for position in wanted if seen <= position < seen + times]
        seen += times
    return Decimal(sum(middle)) / len(middle)
