"""The program as a file: reading and checking the JSON document (no database writes here).

The file's sections are registered (loyalty.extensions.program_sections): the engine's settings,
event types, tiers and rules, and the apps' own (rewards: coupon templates, rewards, benefits). The
checks here are public, for every section's parser. `loyalty.services.program.apply_program`
applies a parsed document; docs/program-file.md is the format's reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty import extensions
from loyalty.calculations import LadderError, TierStep, validate_ladder
from loyalty.models.program import MAX_EVENT_AGE_DAYS, DowngradePolicy, ExpiryPolicy, GrowthMode, ReturnDowngrade
from members.errors import InvalidInput
from members.inputs import json_problem, text_problem

SETTINGS_KEYS = {
    "currency",
    "timezone",
    "point_value",
    "pending_days",
    "points_expiry",
    "growth_window",
    "downgrade",
    "growth_mode",
    "target_value_per_point",
    "hold_minutes",
    "return_downgrade",
    "max_event_age_days",
    "max_total_multiplier",
    "campaign_approval_limit",
    "global_control_percent",
}
TIER_KEYS = {"code", "name", "rank", "threshold", "points_multiplier", "description"}
RULE_KEYS = {
    "code",
    "event_type",
    "name",
    "growth",
    "points",
    "growth_per_unit",
    "points_per_unit",
    "apply_tier_multiplier",
    "daily_limit",
    "lifetime_limit",
    "starts_at",
    "ends_at",
    "active",
    "description",
}
EVENT_TYPE_KEYS = {"code", "name", "description"}
MAX_MONTHS = 120


def decimal_text(value: Decimal) -> str:
    """1.100 -> "1.1", 10.00 -> "10": how decimals appear in the file and in change lists."""
    return format(value.normalize(), "f")


@dataclass
class ProgramDocument:
    """The sections present in a file, each parsed by its section's parser. A section that is present
    is the whole desired state of that part; an absent one is left alone."""

    sections: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.sections

    def __getitem__(self, name: str) -> Any:
        return self.sections[name]


class ProgramErrors:
    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)

    def unknown_keys(self, path: str, item: dict, allowed: set[str]) -> None:
        for key in sorted(set(item) - allowed):
            self.add(f"{path}.{key}", "Unknown key.")


def whole_number(
    errors: ProgramErrors, path: str, value: Any, *, minimum: int | None = None, maximum: int = 2_000_000_000
):
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "Must be a whole number.")
        return None
    if minimum is not None and value < minimum:
        errors.add(path, f"Must be at least {minimum}.")
    elif abs(value) > maximum:
        errors.add(path, f"Must be at most {maximum}.")
    return value


def decimal_number(errors: ProgramErrors, path: str, value: Any, *, minimum: Decimal | None = None) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.add(path, 'Must be a decimal number, preferably as a string ("1.5").')
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(path, "Must be a decimal number.")
        return None
    if not number.is_finite() or abs(number) >= Decimal("100000000"):
        errors.add(path, "Must be a finite number below 100,000,000.")
        return None
    if minimum is not None and number < minimum:
        errors.add(path, f"Must be at least {minimum}.")
    return number


def text_value(errors: ProgramErrors, path: str, value: Any, *, max_length: int, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        errors.add(path, "Must be a non-empty string." if required else "Must be a string.")
        return ""
    if problem := text_problem(value):
        errors.add(path, problem)
        return ""
    if len(value) > max_length:
        errors.add(path, f"At most {max_length} characters.")
    return value.strip()


def code_value(errors: ProgramErrors, path: str, value: Any, *, max_length: int) -> str:
    code = text_value(errors, path, value, max_length=max_length, required=True)
    if code and not all(c.isascii() and (c.isalnum() or c in "-_") for c in code):
        errors.add(path, "Only letters, digits, '-' and '_'.")
    return code


def moment_value(errors: ProgramErrors, path: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, such as February 30th
        moment = None
    if moment is None or timezone.is_naive(moment):
        errors.add(path, "Must be an ISO 8601 date-time with a time zone offset.")
        return None
    return moment


def _expiry(errors: ProgramErrors, path: str, value: Any, allowed: set[str]) -> tuple[str, int] | None:
    if not isinstance(value, dict):
        errors.add(path, 'Must be an object such as {"policy": "rolling_months", "months": 12}.')
        return None
    errors.unknown_keys(path, value, {"policy", "months"})
    policy = value.get("policy")
    if policy not in allowed:
        errors.add(f"{path}.policy", f"Must be one of {', '.join(sorted(allowed))}.")
        return None
    months = 0
    if policy == ExpiryPolicy.ROLLING_MONTHS:
        months = whole_number(errors, f"{path}.months", value.get("months"), minimum=1, maximum=MAX_MONTHS) or 0
    return policy, months


def parse_settings(errors: ProgramErrors, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.add("settings", "Must be an object.")
        return {}
    errors.unknown_keys("settings", raw, SETTINGS_KEYS)
    result: dict[str, Any] = {}
    if "currency" in raw:
        currency = text_value(errors, "settings.currency", raw["currency"], max_length=3, required=True)
        if currency and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            errors.add("settings.currency", "Must be a three-letter ISO 4217 code such as CNY.")
        result["currency"] = currency
    if "timezone" in raw:
        zone = text_value(errors, "settings.timezone", raw["timezone"], max_length=64, required=True)
        try:
            ZoneInfo(zone)
            result["timezone"] = zone
        except (ZoneInfoNotFoundError, ValueError):
            errors.add("settings.timezone", f"Unknown time zone {zone!r}.")
    if "point_value" in raw:
        result["point_value"] = decimal_number(errors, "settings.point_value", raw["point_value"], minimum=Decimal("0"))
    if "pending_days" in raw:
        result["pending_days"] = whole_number(
            errors, "settings.pending_days", raw["pending_days"], minimum=0, maximum=365
        )
    for key, prefix in (("points_expiry", "points_expiry"), ("growth_window", "growth_window")):
        if key in raw:
            parsed = _expiry(errors, f"settings.{key}", raw[key], set(ExpiryPolicy.values))
            if parsed:
                result[f"{prefix}_policy"], result[f"{prefix}_months"] = parsed
    if "downgrade" in raw:
        if raw["downgrade"] not in DowngradePolicy.values:
            errors.add("settings.downgrade", f"Must be one of {', '.join(DowngradePolicy.values)}.")
        result["downgrade_policy"] = raw["downgrade"]
    if "growth_mode" in raw:
        if raw["growth_mode"] not in GrowthMode.values:
            errors.add("settings.growth_mode", f"Must be one of {', '.join(GrowthMode.values)}.")
        result["growth_mode"] = raw["growth_mode"]
    if "target_value_per_point" in raw:
        result["target_value_per_point"] = decimal_number(
            errors, "settings.target_value_per_point", raw["target_value_per_point"], minimum=Decimal("0")
        )
    if "hold_minutes" in raw:
        result["hold_minutes"] = whole_number(
            errors, "settings.hold_minutes", raw["hold_minutes"], minimum=1, maximum=10080
        )
    if "return_downgrade" in raw:
        if raw["return_downgrade"] not in ReturnDowngrade.values:
            errors.add("settings.return_downgrade", f"Must be one of {', '.join(ReturnDowngrade.values)}.")
        result["return_downgrade"] = raw["return_downgrade"]
    if "max_event_age_days" in raw:
        result["max_event_age_days"] = whole_number(
            errors, "settings.max_event_age_days", raw["max_event_age_days"], minimum=1, maximum=MAX_EVENT_AGE_DAYS
        )
    if "max_total_multiplier" in raw:
        result["max_total_multiplier"] = decimal_number(
            errors,
            "settings.max_total_multiplier",
            raw["max_total_multiplier"],
            minimum=Decimal("1"),
        )
        if result["max_total_multiplier"] is not None and result["max_total_multiplier"] > 100:
            errors.add("settings.max_total_multiplier", "At most 100.")
    if "global_control_percent" in raw:
        result["global_control_percent"] = whole_number(
            errors, "settings.global_control_percent", raw["global_control_percent"], minimum=0, maximum=20
        )
    if "campaign_approval_limit" in raw:
        result["campaign_approval_limit"] = whole_number(
            errors, "settings.campaign_approval_limit", raw["campaign_approval_limit"], minimum=0, maximum=10**15
        )
    return result


def object_list(errors: ProgramErrors, path: str, raw: Any) -> list[dict]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        errors.add(path, "Must be a list of objects.")
        return []
    return raw


def unique_codes(errors: ProgramErrors, path: str, items: list[dict]) -> None:
    seen = set()
    for index, item in enumerate(items):
        code = item.get("code")
        if code in seen:
            errors.add(f"{path}[{index}].code", f"Duplicate code {code!r}.")
        seen.add(code)


def parse_event_types(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "event_types", raw)):
        path = f"event_types[{index}]"
        errors.unknown_keys(path, item, EVENT_TYPE_KEYS)
        items.append(
            {
                "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
                "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128, required=True),
                "description": text_value(errors, f"{path}.description", item.get("description"), max_length=2000),
            }
        )
    unique_codes(errors, "event_types", items)
    return items


def parse_tiers(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    errors_before = len(errors.fields)
    for index, item in enumerate(object_list(errors, "tiers", raw)):
        path = f"tiers[{index}]"
        errors.unknown_keys(path, item, TIER_KEYS)
        items.append(
            {
                "code": code_value(errors, f"{path}.code", item.get("code"), max_length=32),
                "name": text_value(errors, f"{path}.name", item.get("name"), max_length=64, required=True),
                "rank": whole_number(errors, f"{path}.rank", item.get("rank"), minimum=0, maximum=1000),
                "threshold": whole_number(errors, f"{path}.threshold", item.get("threshold"), minimum=0),
                "points_multiplier": decimal_number(
                    errors, f"{path}.points_multiplier", item.get("points_multiplier", "1"), minimum=Decimal("0")
                ),
                "description": text_value(errors, f"{path}.description", item.get("description"), max_length=2000),
            }
        )
    unique_codes(errors, "tiers", items)
    if len(errors.fields) == errors_before:
        try:
            validate_ladder(TierStep(t["code"], t["rank"], t["threshold"]) for t in items)
        except LadderError as exc:
            errors.add("tiers", str(exc))
    return items


def optional_limit(errors: ProgramErrors, path: str, value: Any) -> int | None:
    return None if value is None else whole_number(errors, path, value, minimum=1)


def parse_rules(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "rules", raw)):
        path = f"rules[{index}]"
        errors.unknown_keys(path, item, RULE_KEYS)
        active = item.get("active", True)
        if not isinstance(active, bool):
            errors.add(f"{path}.active", "Must be true or false.")
        multiplier = item.get("apply_tier_multiplier", False)
        if not isinstance(multiplier, bool):
            errors.add(f"{path}.apply_tier_multiplier", "Must be true or false.")
        rule = {
            "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
            "event_type_id": code_value(errors, f"{path}.event_type", item.get("event_type"), max_length=64),
            "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128),
            "growth": whole_number(errors, f"{path}.growth", item.get("growth", 0), maximum=100_000_000),
            "points": whole_number(errors, f"{path}.points", item.get("points", 0), maximum=100_000_000),
            "growth_per_unit": decimal_number(errors, f"{path}.growth_per_unit", item.get("growth_per_unit", "0")),
            "points_per_unit": decimal_number(errors, f"{path}.points_per_unit", item.get("points_per_unit", "0")),
            "apply_tier_multiplier": multiplier,
            "daily_limit": optional_limit(errors, f"{path}.daily_limit", item.get("daily_limit")),
            "lifetime_limit": optional_limit(errors, f"{path}.lifetime_limit", item.get("lifetime_limit")),
            "starts_at": moment_value(errors, f"{path}.starts_at", item.get("starts_at")),
            "ends_at": moment_value(errors, f"{path}.ends_at", item.get("ends_at")),
            "is_active": active,
            "description": text_value(errors, f"{path}.description", item.get("description"), max_length=2000),
        }
        if rule["starts_at"] and rule["ends_at"] and rule["ends_at"] <= rule["starts_at"]:
            errors.add(f"{path}.ends_at", "Must be after starts_at.")
        items.append(rule)
    unique_codes(errors, "rules", items)
    return items


def parse_program(raw: Any) -> ProgramDocument:
    """Check a decoded JSON document; raise InvalidInput listing every problem by its path."""
    errors = ProgramErrors()
    if not isinstance(raw, dict):
        raise InvalidInput("A program file is a JSON object.", fields={"$": ["Must be an object."]})
    if problem := json_problem(raw):
        raise InvalidInput(f"The program file holds a value that cannot be stored: {problem}", fields={"$": [problem]})
    errors.unknown_keys("$", raw, set(extensions.program_sections.names()))
    document = ProgramDocument(
        {name: section.parse(errors, raw[name]) for name, section in extensions.program_sections.items() if name in raw}
    )
    if errors.fields:
        raise InvalidInput("The program file is not valid.", fields=errors.fields)
    return document
