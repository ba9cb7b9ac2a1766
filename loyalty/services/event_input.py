"""Validating and normalising an incoming event, and its fingerprint for spotting conflicting replays."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.errors import InvalidInput

FUTURE_TOLERANCE = timedelta(minutes=5)
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


def _text(value: Any, name: str, max_length: int, errors: dict, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            errors[name] = ["This field is required."]
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        errors[name] = ["Must be a string."]
        return ""
    text = str(value).strip()
    if len(text) > max_length:
        errors[name] = [f"At most {max_length} characters."]
    elif required and not text:
        errors[name] = ["This field is required."]
    return text


def _occurred_at(value: Any, now: datetime, errors: dict) -> datetime | None:
    if value is None or value == "":
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
    if moment > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = ["Cannot be more than 5 minutes in the future."]
        return None
    return moment


def _amount(value: Any, errors: dict) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors["amount"] = ["Must be a decimal number."]
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors["amount"] = ["Must be a decimal number."]
        return None
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
    parsed = EventInput(
        source=source,
        event_id=_text(event_id, "event_id", 128, errors, required=True),
        member=_text(member, "member", 64, errors, required=True),
        event_type=_text(event_type, "type", 64, errors, required=True),
        occurred_at=_occurred_at(occurred_at, now, errors),
        amount=_amount(amount, errors),
        order_id=_text(order_id, "order_id", 128, errors, required=False),
        original_order_id=_text(original_order_id, "original_order_id", 128, errors, required=False),
        data=_data(data, errors),
    )
    if errors:
        raise InvalidInput("The event is not valid.", fields=errors)
    return parsed
