"""Checking what storefronts send, before any lock is taken: InvalidInput with per-field messages."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.errors import InvalidInput


def fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request's meaningful fields, to tell a replay from a conflicting reuse of a key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def text(value: Any, name: str, *, max_length: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{name} is required.", fields={name: [f"A string of 1-{max_length} characters."]})
    value = value.strip()
    if "\x00" in value:
        raise InvalidInput(f"{name} contains a NUL character.", fields={name: ["No NUL characters."]})
    if len(value) > max_length:
        raise InvalidInput(f"{name} is too long.", fields={name: [f"At most {max_length} characters."]})
    return value


def whole(value: Any, name: str, *, minimum: int = 1, maximum: int = 2_000_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(
            f"{name} must be a whole number from {minimum} to {maximum}.",
            fields={name: [f"A whole number from {minimum} to {maximum}."]},
        )
    return value


def money(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    problem = {name: ['A decimal string >= 0 with at most 2 places, e.g. "199.90".']}
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"{name} is not a valid amount.", fields=problem)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{name} is not a valid amount.", fields=problem) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12") or amount.as_tuple().exponent < -2:
        raise InvalidInput(f"{name} is not a valid amount.", fields=problem)
    return amount


MAX_ID = 2**63 - 1


def is_row_id(value: Any) -> bool:
    """A value that can be a primary key (anything else is simply not found, never a database error)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
