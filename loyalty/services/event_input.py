"""Validating and normalising an incoming event, and its fingerprint for spotting conflicting replays."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.errors import EventTooOld
from loyalty.models.program import MAX_EVENT_AGE_DAYS
from members.errors import InvalidInput
from members.inputs import json_problem, text_problem

FUTURE_TOLERANCE = timedelta(minutes=5)
# The hard floor whatever the program says (its max_event_age_days is checked with the configuration,
# as event_too_old): instants near year 1 overflow when moved between time zones.
OLDEST_EVENT = timedelta(days=MAX_EVENT_AGE_DAYS)
MAX_AMOUNT = Decimal("999999999999.99")
MAX_DATA_BYTES = 16_384


@dataclass(frozen=True)
class EventInput:
    source: str
    event_id: str
    member: str
    event_type: str
    occurred_at: datetime | None
    amount: Decimal | None
    order_id: str = ""
    original_order_id: str = ""
    data: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        body = {
            "member": self.member,
            "type": self.event_type,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat() if self.occurred_at else None,
            "amount": str(self.amount) if self.amount is not None else None,
            "order_id": self.order_id,
            "original_order_id": self.original_order_id,
            "data": self.data,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# Ids sent as JSON numbers: beyond this, JavaScript storefronts (doubles) have already lost digits.
MAX_WHOLE_NUMBER_ID = 10**18


def _text(value: Any, name: str, max_length: int, errors: dict, *, required: bool) -> str:
    """Text (or a whole number, which storefronts often use for ids), at most max_length characters
    as sent, stripped."""
    if value is None or value == "":
        if required:
            errors[name] = ["This field is required."]
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        errors[name] = ["Must be a string."]
        return ""
    if isinstance(value, int) and abs(value) > MAX_WHOLE_NUMBER_ID:
        errors[name] = ["A whole number id must be within ±10^18; send a longer id as a string."]
        return ""
    text = str(value)
    if problem := text_problem(text):
        errors[name] = [problem]
    elif len(text) > max_length:
        errors[name] = [f"At most {max_length} characters."]
    elif required and not text.strip():
        errors[name] = ["This field is required."]
    return text.strip()


class _TooOld(Exception):
    """occurred_at lies before any date an event may have (or so far back its arithmetic overflows)."""


def _occurred_at(value: Any, now: datetime, errors: dict) -> datetime | None:
    if value is None:
        return None
    moment = value
    if isinstance(value, str):
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
    if not isinstance(moment, datetime):
        errors["occurred_at"] = ["Must be an ISO 8601 date-time with a time zone."]
        return None
    if timezone.is_naive(moment):
        errors["occurred_at"] = ["Must include a time zone offset (e.g. 2026-11-26T10:00:00+08:00)."]
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        # Beyond what a datetime holds once moved to UTC: year 1 at +14:00, or year 9999 at -14:00.
        if moment.year < now.year:
            raise _TooOld from None
        moment = datetime.max.replace(tzinfo=UTC)
    if moment < now - OLDEST_EVENT:
        raise _TooOld
    if moment > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = ["Cannot be more than 5 minutes in the future."]
        return None
    return moment


# A decimal as the API documents it: digits, and at most two after the point.
_DECIMAL_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # [0-9]: \d also matches other scripts' digits


def _amount(value: Any, errors: dict) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        errors["amount"] = ['Send money as a decimal string such as "199.90", or a whole number.']
        return None
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        errors["amount"] = ['A decimal string with at most 2 decimal places, such as "199.90".']
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        errors["amount"] = ["Must be a decimal number."]
        return None
    amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if not amount.is_finite():
        errors["amount"] = ["Must be a finite number."]
    elif amount < 0:
        errors["amount"] = ["Must not be negative."]
    elif amount > MAX_AMOUNT:
        errors["amount"] = [f"Must not exceed {MAX_AMOUNT}."]
    elif amount != amount.quantize(Decimal("0.01")):
        errors["amount"] = ["At most 2 decimal places."]
    else:
        return amount.quantize(Decimal("0.01"))
    return None


def _data(value: Any, errors: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors["data"] = ["Must be a JSON object."]
        return {}
    if problem := json_problem(value):
        errors["data"] = [problem]
        return {}
    try:
        encoded = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        errors["data"] = ["Must be JSON-serialisable."]
        return {}
    if len(encoded.encode()) > MAX_DATA_BYTES:
        errors["data"] = [f"At most {MAX_DATA_BYTES} bytes of JSON."]
        return {}
    return value


def parse_event(
    *,
    source: str,
    event_id: Any,
    member: Any,
    event_type: Any,
    occurred_at: Any = None,
    amount: Any = None,
    order_id: Any = "",
    original_order_id: Any = "",
    data: Any = None,
    now: datetime,
) -> EventInput:
    errors: dict[str, list[str]] = {}
    fields = {
        "event_id": _text(event_id, "event_id", 128, errors, required=True),
        "member": _text(member, "member", 64, errors, required=True),
        "event_type": _text(event_type, "type", 64, errors, required=True),
        "amount": _amount(amount, errors),
        "order_id": _text(order_id, "order_id", 128, errors, required=False),
        "original_order_id": _text(original_order_id, "original_order_id", 128, errors, required=False),
        "data": _data(data, errors),
    }
    try:
        moment = _occurred_at(occurred_at, now, errors)
    except _TooOld:
        if not errors:
            raise EventTooOld(
                f"The event happened more than {MAX_EVENT_AGE_DAYS:,} days ago.",
                fields={"occurred_at": [f"At most {MAX_EVENT_AGE_DAYS:,} days ago."]},
            ) from None
        moment = None
    if errors:
        raise InvalidInput("The event is not valid.", fields=errors)
    return EventInput(source=source, occurred_at=moment, **fields)  # type: ignore[arg-type]  # checked above
