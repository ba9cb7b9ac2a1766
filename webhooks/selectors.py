"""Reads for the admin: each endpoint's health over the last day, and its backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q
from django.utils import timezone

from .models import Attempt, Delivery, EndpointSecret

HEALTH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Health:
    attempts: int  # in the window
    succeeded: int
    mean_ms: float | None
    p95_ms: int | None
    backlog: int  # deliveries waiting to be sent (pending)
    failed: int  # deliveries that gave up, in the window

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


def health(endpoint_ids: list[int], *, now: datetime | None = None) -> dict[int, Health]:
    """Two grouped queries for any number of endpoints (a list page's), and two per endpoint with
    attempts for its 95th percentile."""
    since = (now or timezone.now()) - HEALTH_WINDOW
    recent = Attempt.objects.filter(endpoint_id__in=endpoint_ids, attempted_at__gte=since)
    tried: dict[int, dict[str, Any]] = {
        row["endpoint_id"]: dict(row)
        for row in recent.values("endpoint_id").annotate(
            n=Count("id"), ok=Count("id", filter=Q(status_code__gte=200, status_code__lt=300)), mean=Avg("duration_ms")
        )
    }
    waiting: dict[int, dict[str, Any]] = {
        row["endpoint_id"]: dict(row)
        for row in Delivery.objects.filter(endpoint_id__in=endpoint_ids)
        .filter(Q(status=Delivery.Status.PENDING) | Q(status=Delivery.Status.FAILED, created_at__gte=since))
        .values("endpoint_id")
        .annotate(
            pending=Count("id", filter=Q(status=Delivery.Status.PENDING)),
            failed=Count("id", filter=Q(status=Delivery.Status.FAILED)),
        )
    }
    result = {}
    for endpoint_id in endpoint_ids:
        attempts = tried.get(endpoint_id, {})
        queue = waiting.get(endpoint_id, {})
        result[endpoint_id] = Health(
            attempts=attempts.get("n", 0),
            succeeded=attempts.get("ok", 0),
            mean_ms=attempts.get("mean"),
            p95_ms=_p95(recent.filter(endpoint_id=endpoint_id)) if attempts else None,
            backlog=queue.get("pending", 0),
            failed=queue.get("failed", 0),
        )
    return result


def _p95(attempts) -> int | None:
    count = attempts.count()
    if not count:
        return None
    index = min(count - 1, int(count * 0.95))
    return attempts.order_by("duration_ms").values_list("duration_ms", flat=True)[index]


def signing_secrets(endpoint_id: int, *, now: datetime) -> list[str]:
    """The secrets deliveries are signed with now: the current one first, then those still overlapping."""
    rows = EndpointSecret.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), endpoint_id=endpoint_id)
    return list(rows.order_by(F("expires_at").desc(nulls_first=True)).values_list("secret", flat=True))
