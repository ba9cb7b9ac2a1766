"""The notification settings as the program file's `notifications` section (docs/program-file.md):
read and checked without the database, applied through the settings' configuration writer, and
exported, so that what members are told is kept under version control with the rest of the program."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from loyalty.program_file import ProgramErrors, whole_number
from loyalty.services.configuration import writer_for
from loyalty.services.program import assign
from members.services import LANGUAGE_CODES

from .kinds import kind_codes
from .models import NotificationSettings

SECTION = "notifications"
KEYS = {"default_language", "email", "messages", "quiet_hours", "daily_marketing_cap", "at_risk_days"}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def parse(errors: ProgramErrors, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.add(SECTION, "Must be an object.")
        return {}
    errors.unknown_keys(SECTION, raw, KEYS)
    result: dict[str, Any] = {}
    if "default_language" in raw:
        if raw["default_language"] not in LANGUAGE_CODES:
            errors.add(f"{SECTION}.default_language", f"Must be one of {', '.join(LANGUAGE_CODES)}.")
        result["default_language"] = raw["default_language"]
    for key, field in (("email", "email_kinds"), ("messages", "message_kinds")):
        if key in raw:
            result[field] = _kinds(errors, f"{SECTION}.{key}", raw[key])
    if "quiet_hours" in raw:
        result.update(_quiet_hours(errors, raw["quiet_hours"]))
    if "daily_marketing_cap" in raw:
        result["daily_marketing_cap"] = whole_number(
            errors, f"{SECTION}.daily_marketing_cap", raw["daily_marketing_cap"], minimum=0, maximum=20
        )
    if "at_risk_days" in raw:
        result["at_risk_days"] = whole_number(
            errors, f"{SECTION}.at_risk_days", raw["at_risk_days"], minimum=1, maximum=27
        )
    return result


def _kinds(errors: ProgramErrors, path: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        errors.add(path, "Must be a list of notification kinds.")
        return []
    if unknown := sorted(set(value) - set(kind_codes())):
        errors.add(path, f"Unknown kinds: {', '.join(unknown)}. Known: {', '.join(kind_codes())}.")
    return list(dict.fromkeys(value))


def _quiet_hours(errors: ProgramErrors, value: Any) -> dict[str, dt.time]:
    """{"start": "21:00", "end": "08:00"} in the program's time zone, or null for none."""
    path = f"{SECTION}.quiet_hours"
    if value is None:
        return {"quiet_hours_start": dt.time(0), "quiet_hours_end": dt.time(0)}
    if not isinstance(value, dict):
        errors.add(path, 'Must be an object such as {"start": "21:00", "end": "08:00"}, or null for none.')
        return {}
    errors.unknown_keys(path, value, {"start", "end"})
    times = {}
    for key in ("start", "end"):
        clock = value.get(key)
        if not isinstance(clock, str) or not _CLOCK.match(clock):
            errors.add(f"{path}.{key}", "Must be a time of day as HH:MM.")
            continue
        times[f"quiet_hours_{key}"] = dt.time.fromisoformat(clock)
    return times


def apply(wanted: dict[str, Any], changes: list[str], actor) -> None:
    NotificationSettings.current()  # the row exists from then on
    row = NotificationSettings.objects.select_for_update().get(pk=NotificationSettings.SINGLETON_PK)
    changes += writer_for(NotificationSettings).save(assign(row, wanted), actor=actor, fields=wanted).changes


def export() -> dict[str, Any]:
    config = NotificationSettings.current()
    quiet = config.quiet_hours_start != config.quiet_hours_end
    return {
        "default_language": config.default_language,
        "email": list(config.email_kinds),
        "messages": list(config.message_kinds),
        "quiet_hours": (
            {"start": f"{config.quiet_hours_start:%H:%M}", "end": f"{config.quiet_hours_end:%H:%M}"} if quiet else None
        ),
        "daily_marketing_cap": config.daily_marketing_cap,
        "at_risk_days": config.at_risk_days,
    }
