"""Checking the text staff and files send to the campaigns' services: InvalidInput with the field."""

from __future__ import annotations

from typing import Any

from members.errors import InvalidInput
from members.inputs import text_problem


def text(value: Any, name: str, *, limit: int, required: bool = False) -> str:
    """Storable text of at most `limit` characters, stripped; required: not blank."""
    if not isinstance(value, str) or text_problem(value):
        raise InvalidInput(f"{name} is not valid text.", fields={name: ["Not valid text."]})
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{name} is required.", fields={name: ["Required."]})
    if len(value) > limit:
        raise InvalidInput(f"{name} is too long.", fields={name: [f"At most {limit} characters."]})
    return value
