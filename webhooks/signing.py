"""Standard Webhooks signatures (https://www.standardwebhooks.com), made by the maintained
`standardwebhooks` package so that every language's verifier agrees with us: `webhook-signature`
is `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per valid secret, space-separated (both
the new and the previous secret while a rotation overlaps)."""

from __future__ import annotations

import base64
import secrets as random_bytes
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(random_bytes.token_bytes(SECRET_BYTES)).decode()


def valid_secret(text: str) -> bool:
    """`whsec_` and base64 of 24 to 64 bytes (the spec's range)."""
    if not text.startswith(PREFIX):
        return False
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
    except ValueError:
        return False
    return 24 <= len(raw) <= 64


def headers(*, message_id: str, timestamp: datetime, body: bytes, secrets: Iterable[str]) -> dict[str, str]:
    signatures = " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
