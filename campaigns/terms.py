"""A campaign's terms — what it rewards, whom, when, within which budget — as plain data, read and
checked without the database. The program file, the admin's editor and the services all read them
through `parse_terms`; a version stores `Terms.as_json()`, the canonical form, so an unchanged
edit is recognised and an export reads back the same.

The kinds (docs/campaigns.md):
- `multiplier`: extra points and/or growth on matching events (`points_multiplier`, `growth_multiplier`);
- `bonus`: fixed `points` / `growth` per matching event (optionally only a first purchase ever);
- `grant`: a one-off `reward` to the audience;
- `triggered`: a `reward` per occurrence of a `trigger`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from loyalty.program_file import (
    ProgramErrors,
    code_value,
    decimal_number,
    decimal_text,
    moment_value,
    whole_number,
)
from members.inputs import json_problem

MULTIPLIER, BONUS, GRANT, TRIGGERED = "multiplier", "bonus", "grant", "triggered"
KINDS = (MULTIPLIER, BONUS, GRANT, TRIGGERED)
EARNING_KINDS = (MULTIPLIER, BONUS)  # act on events as they are recorded
TRIGGERS = (
    "member.enrolled",
    "first_purchase",
    "tier.upgraded",
    "birthday",
    "anniversary",
    "dormant",
    "segment.entered",
)
EXCLUSIVE, STACKABLE = "exclusive", "stackable"
PERIODS = ("day", "week", "month", "total")
MAX_MULTIPLIER = Decimal("10")
MAX_REWARD = 1_000_000  # points or growth in one grant or bonus
HOUR = re.compile(r"[0-2][0-9]:[0-5][0-9]")

TERMS_KEYS = {
    "event_types",
    "min_amount",
    "points_multiplier",
    "growth_multiplier",
    "points",
    "growth",
    "first_purchase_only",
    "trigger",
    "reward",
    "audience",
    "budget",
    "starts_at",
    "ends_at",
    "weekdays",
    "hours",
    "stack_group",
    "priority",
}
AUDIENCE_KEYS = {"tiers", "segment", "tags", "exclude_tags", "exclude_segment"}
BUDGET_KEYS = {"points", "grants", "per_member_points", "per_member_grants"}
REWARD_KEYS = {"points", "growth", "coupon_template"}
TRIGGER_KEYS = {"type", "tier", "days", "on"}


@dataclass(frozen=True)
class Audience:
    """Whom a campaign is for: everyone, or the members matching every part given."""

    tiers: tuple[str, ...] = ()
    segment: str | None = None
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    exclude_segment: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in (
                ("tiers", self.tiers),
                ("segment", self.segment),
                ("tags", self.tags),
                ("exclude_tags", self.exclude_tags),
                ("exclude_segment", self.exclude_segment),
            )
            if value
        }


@dataclass(frozen=True)
class Limit:
    amount: int
    per: str = "total"  # PERIODS

    def as_json(self) -> int | dict[str, Any]:
        return self.amount if self.per == "total" else {"limit": self.amount, "per": self.per}


@dataclass(frozen=True)
class Budget:
    points: Limit | None = None
    grants: Limit | None = None
    per_member_points: Limit | None = None
    per_member_grants: Limit | None = None

    def limits(self) -> dict[str, Limit]:
        """The limits given, by name (in a fixed order; the same dict each time: read it, never change it)."""
        return self._limits

    @functools.cached_property
    def _limits(self) -> dict[str, Limit]:
        # Every event a campaign matches asks for them: made once per (frozen) budget.
        return {name: limit for name in sorted(BUDGET_KEYS) if (limit := getattr(self, name)) is not None}

    def as_json(self) -> dict[str, Any]:
        return {name: limit.as_json() for name, limit in sorted(self.limits().items())}


@dataclass(frozen=True)
class Reward:
    points: int = 0
    growth: int = 0
    coupon_template: str | None = None

    def as_json(self) -> dict[str, Any]:
        given = {"points": self.points, "growth": self.growth, "coupon_template": self.coupon_template}
        return {key: value for key, value in given.items() if value}


@dataclass(frozen=True)
class Trigger:
    type: str
    tier: str | None = None  # tier.upgraded: only to this tier
    days: int | None = None  # dormant: days since the last purchase
    on: str | None = None  # birthday: "month" (any day of it) or "day"

    def as_json(self) -> dict[str, Any]:
        given = {"type": self.type, "tier": self.tier, "days": self.days, "on": self.on}
        return {key: value for key, value in given.items() if value is not None}


@dataclass(frozen=True)
class Terms:
    kind: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    weekdays: tuple[int, ...] = ()  # ISO: 1 Monday .. 7 Sunday; empty: every day
    hours: tuple[time, time] | None = None  # from (inclusive) to (exclusive), in the program's time zone
    event_types: tuple[str, ...] = ()
    min_amount: Decimal | None = None
    points_multiplier: Decimal = Decimal(1)
    growth_multiplier: Decimal = Decimal(1)
    points: int = 0
    growth: int = 0
    first_purchase_only: bool = False
    trigger: Trigger | None = None
    reward: Reward | None = None
    audience: Audience = Audience()
    budget: Budget = Budget()
    stack_group: str = STACKABLE
    priority: int = 0

    def as_json(self) -> dict[str, Any]:
        """The canonical JSON: every key that matters to the kind, nothing else."""
        data: dict[str, Any] = {
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
        }
        if self.weekdays:
            data["weekdays"] = list(self.weekdays)
        if self.hours:
            data["hours"] = {"from": self.hours[0].strftime("%H:%M"), "to": self.hours[1].strftime("%H:%M")}
        if self.kind in EARNING_KINDS:
            data["event_types"] = list(self.event_types)
            if self.min_amount is not None:
                data["min_amount"] = decimal_text(self.min_amount)
            data["stack_group"], data["priority"] = self.stack_group, self.priority
        if self.kind == MULTIPLIER:
            data["points_multiplier"] = decimal_text(self.points_multiplier)
            data["growth_multiplier"] = decimal_text(self.growth_multiplier)
        if self.kind == BONUS:
            data["points"], data["growth"] = self.points, self.growth
            data["first_purchase_only"] = self.first_purchase_only
        if self.trigger is not None:
            data["trigger"] = self.trigger.as_json()
        if self.reward is not None:
            data["reward"] = self.reward.as_json()
        if audience := self.audience.as_json():
            data["audience"] = audience
        if budget := self.budget.as_json():
            data["budget"] = budget
        return data

    def segments(self) -> set[str]:
        """The segments the audience names."""
        return {code for code in (self.audience.segment, self.audience.exclude_segment) if code}


class InvalidTerms(ValueError):
    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(f"{path}: {', '.join(messages)}" for path, messages in problems.items()))
        self.problems = problems


def parse_terms(kind: Any, raw: Any) -> Terms:
    """The terms of a campaign of `kind`; InvalidTerms with every problem by path otherwise."""
    errors = ProgramErrors()
    terms = read_terms(errors, "", kind, raw)
    if errors.fields or terms is None:
        raise InvalidTerms(errors.fields or {"kind": ["Unknown kind."]})
    return terms


def read_terms(errors: ProgramErrors, path: str, kind: Any, raw: Any) -> Terms | None:
    """`parse_terms` for a parser that collects problems (the program file: `path` prefixes them)."""
    at = f"{path}." if path else ""
    if problem := json_problem(raw):  # text that cannot be stored or shown, anywhere in it
        errors.add(path or "terms", problem)
        return None
    if not isinstance(kind, str) or kind not in KINDS:
        errors.add(f"{at}kind", f"One of {', '.join(KINDS)}.")
        return None
    if not isinstance(raw, dict):
        errors.add(path or "terms", "Must be an object.")
        return None
    errors.unknown_keys(path or "terms", raw, TERMS_KEYS)
    starts_at = moment_value(errors, f"{at}starts_at", raw.get("starts_at"))
    ends_at = moment_value(errors, f"{at}ends_at", raw.get("ends_at"))
    if starts_at and ends_at and ends_at <= starts_at:
        errors.add(f"{at}ends_at", "Must be after starts_at.")
    terms = Terms(
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        weekdays=_weekdays(errors, f"{at}weekdays", raw.get("weekdays", [])),
        hours=_hours(errors, f"{at}hours", raw.get("hours")),
        audience=_audience(errors, f"{at}audience", raw.get("audience", {})),
        budget=_budget(errors, f"{at}budget", raw.get("budget", {})),
    )
    fields: dict[str, Any] = {}
    if kind in EARNING_KINDS:
        fields |= _earning(errors, at, raw)
    else:
        for key in ("event_types", "min_amount", "stack_group", "priority"):
            if key in raw:
                errors.add(f"{at}{key}", f"Only multiplier and bonus campaigns act on events; not a {kind}.")
    if kind == MULTIPLIER:
        fields |= _multipliers(errors, at, raw)
    elif kind == BONUS:
        fields |= _bonus(errors, at, raw)
    else:
        fields["reward"] = _reward(errors, f"{at}reward", raw.get("reward"))
    if kind == TRIGGERED:
        fields["trigger"] = _trigger(errors, f"{at}trigger", raw.get("trigger"))
    elif "trigger" in raw:
        errors.add(f"{at}trigger", "Only a triggered campaign has a trigger.")
    for key, owner in (
        ("points_multiplier", MULTIPLIER),
        ("growth_multiplier", MULTIPLIER),
        ("points", BONUS),
        ("growth", BONUS),
        ("first_purchase_only", BONUS),
    ):
        if key in raw and kind != owner:
            errors.add(f"{at}{key}", f"Only a {owner} campaign has this.")
    if "reward" in raw and kind in EARNING_KINDS:
        errors.add(f"{at}reward", "Only grant and triggered campaigns give a reward.")
    return Terms(**{**terms.__dict__, **fields})


def _earning(errors: ProgramErrors, at: str, raw: dict) -> dict[str, Any]:
    event_types = raw.get("event_types")
    if not isinstance(event_types, list) or not event_types:
        errors.add(f"{at}event_types", 'A non-empty list of event type codes, e.g. ["purchase"].')
        event_types = []
    event_types = [
        code_value(errors, f"{at}event_types[{i}]", code, max_length=64) for i, code in enumerate(event_types)
    ]
    stack_group = raw.get("stack_group", STACKABLE)
    if stack_group not in (EXCLUSIVE, STACKABLE):
        errors.add(f"{at}stack_group", f"One of {EXCLUSIVE}, {STACKABLE}.")
    min_amount = raw.get("min_amount")
    return {
        "event_types": tuple(sorted(set(event_types))),
        "min_amount": None
        if min_amount is None
        else decimal_number(errors, f"{at}min_amount", min_amount, minimum=Decimal(0)),
        "stack_group": stack_group,
        "priority": whole_number(errors, f"{at}priority", raw.get("priority", 0), minimum=-1000, maximum=1000) or 0,
    }


def _multipliers(errors: ProgramErrors, at: str, raw: dict) -> dict[str, Any]:
    found = {}
    for key in ("points_multiplier", "growth_multiplier"):
        value = decimal_number(errors, f"{at}{key}", raw.get(key, "1"), minimum=Decimal(1))
        if value is not None and value > MAX_MULTIPLIER:
            errors.add(f"{at}{key}", f"At most {MAX_MULTIPLIER}.")
        found[key] = value if value is not None else Decimal(1)
    if found["points_multiplier"] == 1 and found["growth_multiplier"] == 1:
        errors.add(f"{at}points_multiplier", "A multiplier campaign multiplies points or growth by more than 1.")
    return found


def _bonus(errors: ProgramErrors, at: str, raw: dict) -> dict[str, Any]:
    points = whole_number(errors, f"{at}points", raw.get("points", 0), minimum=0, maximum=MAX_REWARD) or 0
    growth = whole_number(errors, f"{at}growth", raw.get("growth", 0), minimum=0, maximum=MAX_REWARD) or 0
    if not points and not growth:
        errors.add(f"{at}points", "A bonus gives points or growth.")
    first = raw.get("first_purchase_only", False)
    if not isinstance(first, bool):
        errors.add(f"{at}first_purchase_only", "Must be true or false.")
        first = False
    return {"points": points, "growth": growth, "first_purchase_only": first}


def _reward(errors: ProgramErrors, path: str, raw: Any) -> Reward | None:
    if not isinstance(raw, dict):
        errors.add(path, 'An object such as {"points": 200} or {"coupon_template": "ten-off-99"}.')
        return None
    errors.unknown_keys(path, raw, REWARD_KEYS)
    points = whole_number(errors, f"{path}.points", raw.get("points", 0), minimum=0, maximum=MAX_REWARD) or 0
    growth = whole_number(errors, f"{path}.growth", raw.get("growth", 0), minimum=0, maximum=MAX_REWARD) or 0
    template = raw.get("coupon_template")
    if template is not None:
        template = code_value(errors, f"{path}.coupon_template", template, max_length=64)
    if not points and not growth and not template:
        errors.add(path, "A reward gives points, growth or a coupon.")
    return Reward(points=points, growth=growth, coupon_template=template or None)


def _trigger(errors: ProgramErrors, path: str, raw: Any) -> Trigger | None:
    if not isinstance(raw, dict) or raw.get("type") not in TRIGGERS:
        errors.add(f"{path}.type", f"One of {', '.join(TRIGGERS)}.")
        return None
    errors.unknown_keys(path, raw, TRIGGER_KEYS)
    kind = raw["type"]
    tier = days = on = None
    if kind == "tier.upgraded" and raw.get("tier") is not None:
        tier = code_value(errors, f"{path}.tier", raw["tier"], max_length=32)
    elif "tier" in raw:
        errors.add(f"{path}.tier", "Only a tier.upgraded trigger names a tier.")
    if kind == "dormant":
        days = whole_number(errors, f"{path}.days", raw.get("days"), minimum=1, maximum=3650)
    elif "days" in raw:
        errors.add(f"{path}.days", "Only a dormant trigger counts days.")
    if kind == "birthday":
        on = raw.get("on", "month")
        if on not in ("month", "day"):
            errors.add(f"{path}.on", "One of month, day.")
    elif "on" in raw:
        errors.add(f"{path}.on", "Only a birthday trigger has this.")
    return Trigger(type=kind, tier=tier, days=days, on=on)


def _codes(errors: ProgramErrors, path: str, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        errors.add(path, "A list of codes.")
        return ()
    return tuple(sorted({code_value(errors, f"{path}[{i}]", code, max_length=64) for i, code in enumerate(raw)}))


def _audience(errors: ProgramErrors, path: str, raw: Any) -> Audience:
    if not isinstance(raw, dict):
        errors.add(path, 'An object such as {"tiers": ["gold"], "exclude_tags": ["do-not-contact"]}.')
        return Audience()
    errors.unknown_keys(path, raw, AUDIENCE_KEYS)
    segment, exclude = raw.get("segment"), raw.get("exclude_segment")
    audience = Audience(
        tiers=_codes(errors, f"{path}.tiers", raw.get("tiers", [])),
        segment=None if segment is None else code_value(errors, f"{path}.segment", segment, max_length=64),
        tags=_codes(errors, f"{path}.tags", raw.get("tags", [])),
        exclude_tags=_codes(errors, f"{path}.exclude_tags", raw.get("exclude_tags", [])),
        exclude_segment=None
        if exclude is None
        else code_value(errors, f"{path}.exclude_segment", exclude, max_length=64),
    )
    if audience.segment and audience.segment == audience.exclude_segment:
        errors.add(f"{path}.exclude_segment", "Excludes the segment the campaign is for.")
    if set(audience.tags) & set(audience.exclude_tags):
        errors.add(f"{path}.exclude_tags", "Excludes a tag the campaign is for.")
    return audience


def _limit(errors: ProgramErrors, path: str, raw: Any) -> Limit | None:
    if isinstance(raw, dict):
        errors.unknown_keys(path, raw, {"limit", "per"})
        per = raw.get("per", "total")
        if per not in PERIODS:
            errors.add(f"{path}.per", f"One of {', '.join(PERIODS)}.")
        amount = whole_number(errors, f"{path}.limit", raw.get("limit"), minimum=1, maximum=10**15)
        return Limit(amount, per) if amount is not None and per in PERIODS else None
    amount = whole_number(errors, path, raw, minimum=1, maximum=10**15)
    return Limit(amount) if amount is not None else None


def _budget(errors: ProgramErrors, path: str, raw: Any) -> Budget:
    if not isinstance(raw, dict):
        errors.add(path, 'An object such as {"points": 500000, "per_member_points": {"limit": 2000, "per": "day"}}.')
        return Budget()
    errors.unknown_keys(path, raw, BUDGET_KEYS)
    return Budget(**{name: _limit(errors, f"{path}.{name}", raw[name]) for name in BUDGET_KEYS if name in raw})


def _weekdays(errors: ProgramErrors, path: str, raw: Any) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in raw
    ):
        errors.add(path, "A list of ISO weekdays, 1 (Monday) to 7 (Sunday).")
        return ()
    return tuple(sorted(set(raw)))


def _hours(errors: ProgramErrors, path: str, raw: Any) -> tuple[time, time] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"from", "to"}:
        errors.add(path, 'An object such as {"from": "18:00", "to": "21:00"}.')
        return None
    try:
        if not all(isinstance(raw[key], str) and HOUR.fullmatch(raw[key]) for key in ("from", "to")):
            raise ValueError
        start, end = time.fromisoformat(raw["from"]), time.fromisoformat(raw["to"])
    except ValueError:
        errors.add(path, 'Times as "HH:MM".')
        return None
    if start == end:
        errors.add(path, "From and to must differ (to before from runs past midnight).")
        return None
    return start, end
