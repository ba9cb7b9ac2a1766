"""What is sent: which endpoints take an event type, and the body of a delivery (docs/webhooks.md).

The body is compact UTF-8 JSON, built once when the delivery is made and sent byte for byte on
every attempt (it is what the signature covers):
`{"id", "type", "schema_version", "occurred_at", "member", "sequence", "data"}`, plus `contact`
(email, phone) only for an endpoint that opted in to personal data."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

PATTERN = re.compile(r"^(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?)$")
TEST_EVENT = "webhook.test"


def parse_patterns(text: str | Iterable[str]) -> list[str]:
    """'tier.*, points.expiring' (or a list): the patterns, checked, without repeats, in order.
    ValueError names the first that is not an event type, `prefix.*` or `*`."""
    items = text.split(",") if isinstance(text, str) else list(text)
    patterns: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if len(item) > 64 or not PATTERN.match(item):
            raise ValueError(item)
        if item not in patterns:
            patterns.append(item)
    if not patterns:
        raise ValueError("")
    return patterns


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def body(
    *,
    event_id: str,
    event_type: str,
    schema_version: int,
    occurred_at: datetime,
    member: str,
    sequence: int | None,
    data: Mapping[str, Any],
    contact: Mapping[str, str] | None = None,
) -> str:
    message: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "schema_version": schema_version,
        "occurred_at": occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "member": member or None,
        "sequence": sequence,
        "data": data,
    }
    if contact is not None:
        message["contact"] = contact
    return json.dumps(message, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def without_contact(text: str) -> str:
    """A body with its contact details blanked (the member's personal data was erased)."""
    message = json.loads(text)
    if "contact" in message:
        message["contact"] = {"email": "", "phone": ""}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
