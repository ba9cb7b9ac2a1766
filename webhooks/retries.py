"""What an attempt's answer means for its delivery: pure arithmetic, no database.

Success is any 2xx. Timeouts, connection errors, 429 and 5xx are tried again after 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (each ±10% so that a recovering receiver is not hit by
every waiting delivery in the same second; never sooner than a `Retry-After` asks, never later
than a day); after the tenth attempt the delivery has failed. 410 Gone disables the endpoint;
every other answer (other 4xx, 3xx: redirects are not followed) fails at once."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MOST_ATTEMPTS = len(RETRY_DELAYS) + 1
LONGEST_WAIT = timedelta(hours=24)
JITTER = 0.1


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"  # failed, and the endpoint is disabled


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    retry_in: timedelta | None = None


def retryable(status_code: int | None) -> bool:
    """No answer (a timeout or a connection error), 429 or 5xx."""
    return status_code is None or status_code == 429 or status_code >= 500


def judge(
    *,
    status_code: int | None,
    attempts_made: int,
    retry_after: timedelta | None = None,
    sent: bool = True,
    rng: random.Random | None = None,
) -> Outcome:
    """The delivery's fate after its `attempts_made`-th attempt. `sent` is False when the request was
    refused before it left (an address that may not be called): that fails at once."""
    if not sent:
        return Outcome(Verdict.FAILED)
    if status_code is not None and 200 <= status_code < 300:
        return Outcome(Verdict.DELIVERED)
    if status_code == 410:
        return Outcome(Verdict.GONE)
    if not retryable(status_code) or attempts_made >= MOST_ATTEMPTS:
        return Outcome(Verdict.FAILED)
    scheduled = RETRY_DELAYS[attempts_made - 1]
    wait = scheduled * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        wait = max(wait, retry_after)
    return Outcome(Verdict.RETRY, min(wait, LONGEST_WAIT))


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """A `Retry-After` header: seconds, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=min(int(value), int(LONGEST_WAIT.total_seconds())))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment - now, timedelta(0))
