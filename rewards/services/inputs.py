"""Checking what storefronts send, before any lock is taken: InvalidInput with per-field messages."""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from loyalty.calculations import MAX_EARNING
from members.errors import InvalidInput
from members.inputs import text_problem


def fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request's meaningful fields, to tell a replay from a conflicting reuse of a key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def text(value: Any, name: str, *, max_length: int, required: bool = True) -> str:
    """Text of at most max_length characters as sent, stripped; None is "" when not required."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{name} is required.", fields={name: [f"A string of 1-{max_length} characters."]})
    if problem := text_problem(value):
        raise InvalidInput(f"{name} is not valid text.", fields={name: [problem]})
    if len(value) > max_length:
        raise InvalidInput(f"{name} is too long.", fields={name: [f"At most {max_length} characters."]})
    return value.strip()


# The most points one request may hold or capture: as much as one event may earn (MAX_EARNING).
MAX_POINTS = MAX_EARNING


def whole(value: Any, name: str, *, minimum: int = 1, maximum: int = MAX_POINTS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(
            f"{name} must be a whole number from {minimum} to {maximum}.",
            fields={name: [f"A whole number from {minimum} to {maximum}."]},
        )
    return value


_DECIMAL_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")  # [0-9]: \d also matches other scripts' digits


def money(value: Any, name: str) -> Decimal | None:
    """An amount of money as the API documents it: a decimal string with at most two places
    ("199.90"), or a whole number. A JSON fraction is refused: it is a binary float, not money."""
    if value is None:
        return None
    problem = {name: ['A decimal string >= 0 with at most 2 places, e.g. "199.90", or a whole number.']}
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return Decimal(value)
    raise InvalidInput(f"{name} is not a valid amount.", fields=problem)


MAX_ID = 2**63 - 1


def is_row_id(value: Any) -> bool:
    """A value that can be a primary key (anything else is simply not found, never a database error)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
