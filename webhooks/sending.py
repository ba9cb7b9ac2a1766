"""The senders: Celery workers claim due deliveries, sign and POST them, and record each attempt.

A claim takes due deliveries of active endpoints (FOR UPDATE SKIP LOCKED: concurrent senders take
different ones), gives them a lease token and moves their next attempt past the time the sender
needs for them. Recording the attempt clears the lease. A sender killed between sending and
recording leaves the delivery to come due again when the lease runs out: it is sent again with the
same `webhook-id` (at least once; receivers deduplicate on the id).

Each request: 15 s timeout (WEBHOOK_TIMEOUT_SECONDS) for connecting and for each read, redirects
not followed, sent to the address egress.resolve checked, and at most 2 KB of the answer kept."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import urllib3
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import egress, retries, selectors, services, signing
from .models import Attempt, Delivery, Endpoint

logger = logging.getLogger(__name__)
USER_AGENT = "loyalty-backoffice-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint_id: int
    url: str
    event_id: str
    body: bytes
    attempts: int
    lease: uuid.UUID


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    duration_ms: int
    excerpt: str = ""
    retry_after: str | None = None
    error: str = ""
    detail: str = ""
    sent: bool = True


# What a claim keeps of its lease unused: time to record its attempts before anyone may take them over.
LEASE_MARGIN_SECONDS = 20


def request_budget() -> float:
    """The longest one request takes: the timeout to connect, then to the answer's end, and a second."""
    return settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 1


def lease_time(count: int) -> timedelta:
    """Long enough for `count` requests that each take the longest, and the margin."""
    return timedelta(seconds=count * request_budget() + LEASE_MARGIN_SECONDS)


def claim(*, limit: int, now: datetime | None = None) -> list[Claimed]:
    now = now or timezone.now()
    lease = uuid.uuid4()
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(limit, now, lease)
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now, endpoint__status=Endpoint.Status.ACTIVE)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(lease=lease, next_attempt_at=now + lease_time(len(ids)))
        rows = Delivery.objects.filter(id__in=ids).values_list(
            "id", "endpoint_id", "endpoint__url", "event_id", "body", "attempts"
        )
        return [
            Claimed(pk, endpoint_id, url, str(event_id), text.encode(), attempts, lease)
            for pk, endpoint_id, url, event_id, text, attempts in rows
        ]


def _claim_in_one_statement(limit: int, now: datetime, lease: uuid.UUID) -> list[Claimed]:
    """PostgreSQL: the claim above as one UPDATE … RETURNING (a sender's every claim is a statement)."""
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM, {"lease": lease, "until": now + lease_time(limit), "now": now, "limit": limit})
        return [
            Claimed(pk, endpoint_id, url, str(event_id), text.encode(), attempts, lease)
            for pk, endpoint_id, url, event_id, text, attempts in cursor.fetchall()
        ]


_CLAIM = f"""
    UPDATE {Delivery._meta.db_table} AS d SET lease = %(lease)s, next_attempt_at = %(until)s
    FROM {Endpoint._meta.db_table} AS ep
    WHERE ep.id = d.endpoint_id AND d.id IN (
        SELECT due.id FROM {Delivery._meta.db_table} AS due
        JOIN {Endpoint._meta.db_table} AS active ON active.id = due.endpoint_id AND active.status = 'active'
        WHERE due.status = 'pending' AND due.next_attempt_at <= %(now)s
        ORDER BY due.next_attempt_at LIMIT %(limit)s
        FOR UPDATE OF due SKIP LOCKED)
    RETURNING d.id, d.endpoint_id, ep.url, d.event_id, d.body, d.attempts"""


class Sender:
    """One thread's sending: its connection pools (urllib3: keep-alive, no retries or redirects of
    its own) and the endpoints' secrets per claim."""

    def __init__(self):
        self.pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()

    def send_claimed(self, claimed: list[Claimed]) -> None:
        """Send one claim's deliveries, then record them all in one transaction, whatever happened
        (what was sent is recorded even if a later one raised). Not sent, and due again: the
        endpoint's others in the claim after a 410, and every one left when the claim's lease is
        nearly used up (slow endpoints ahead of them), so that no other sender takes them over
        while this one still might send them."""
        if not claimed:
            return
        now = timezone.now()
        ends = time.monotonic() + lease_time(len(claimed)).total_seconds() - LEASE_MARGIN_SECONDS
        secrets: dict[int, list[str]] = {}
        results: list[services.AttemptResult] = []
        gone: set[int] = set()
        unsent: list[int] = []
        try:
            for index, delivery in enumerate(claimed):
                late = index > 0 and time.monotonic() + request_budget() > ends  # the first always fits
                if delivery.endpoint_id in gone or late:
                    unsent.append(delivery.id)
                    continue
                if delivery.endpoint_id not in secrets:
                    secrets[delivery.endpoint_id] = selectors.signing_secrets(delivery.endpoint_id, now=now)
                result = self.attempt(delivery, secrets[delivery.endpoint_id])
                results.append(result)
                if result.outcome.verdict is retries.Verdict.GONE:
                    gone.add(delivery.endpoint_id)
        finally:
            services.record_attempts(lease=claimed[0].lease, results=results, unsent=unsent)

    def attempt(self, delivery: Claimed, secrets: list[str]) -> services.AttemptResult:
        attempted_at = timezone.now()
        answer = self.post(delivery, secrets, attempted_at)
        outcome = retries.judge(
            status_code=answer.status_code,
            attempts_made=delivery.attempts + 1,
            retry_after=retries.parse_retry_after(answer.retry_after, now=attempted_at),
            sent=answer.sent,
        )
        error = answer.error
        if not error and outcome.verdict is retries.Verdict.GONE:
            error = Attempt.Error.GONE
        elif not error and outcome.verdict is not retries.Verdict.DELIVERED:
            error = Attempt.Error.REDIRECT if 300 <= (answer.status_code or 0) < 400 else Attempt.Error.STATUS
        return services.AttemptResult(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            attempted_at=attempted_at,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            outcome=outcome,
            response_excerpt=answer.excerpt,
            error=error,
            error_detail=answer.detail,
        )

    def post(self, delivery: Claimed, secrets: list[str], attempted_at: datetime) -> Answer:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target = egress.resolve(delivery.url)
        except (egress.RefusedAddress, ValueError) as refused:  # ValueError: a URL urlsplit cannot take
            return Answer(None, took(), error=Attempt.Error.REFUSED_ADDRESS, detail=str(refused), sent=False)
        except OSError as unresolved:
            return Answer(None, took(), error=Attempt.Error.CONNECTION, detail=str(unresolved))
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": target.host_header,
            **signing.headers(
                message_id=delivery.event_id, timestamp=attempted_at, body=delivery.body, secrets=secrets
            ),
        }
        try:
            response = self._pool(target).urlopen(
                "POST",
                target.path,
                body=delivery.body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.TimeoutError as timeout:
            return Answer(None, took(), error=Attempt.Error.TIMEOUT, detail=str(timeout) or type(timeout).__name__)
        except Exception as failed:  # noqa: BLE001 - whatever went wrong on the way, it is this attempt's error
            return Answer(None, took(), error=Attempt.Error.CONNECTION, detail=f"{type(failed).__name__}: {failed}")
        try:
            excerpt = _excerpt(response, deadline=started + settings.WEBHOOK_TIMEOUT_SECONDS)
        except Exception as failed:  # noqa: BLE001 - the answer's body broke off: its status stands
            response.close()
            excerpt = f"[{type(failed).__name__}]"
        return Answer(response.status, took(), excerpt, response.headers.get("retry-after"))

    def _pool(self, target: egress.Target) -> urllib3.HTTPConnectionPool:
        """A connection pool per (address, port, host name): a connection made with one host name's
        TLS is never reused for another's on the same address."""
        key = (target.scheme, target.address, target.port, target.host)
        if key not in self.pools:
            timeout = urllib3.Timeout(connect=settings.WEBHOOK_TIMEOUT_SECONDS, read=settings.WEBHOOK_TIMEOUT_SECONDS)
            if target.scheme == "https":
                self.pools[key] = urllib3.HTTPSConnectionPool(
                    target.address,
                    target.port,
                    timeout=timeout,
                    maxsize=1,
                    retries=False,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    ca_certs=settings.WEBHOOK_CA_BUNDLE or None,  # None: the system's certificate store
                )
            else:
                self.pools[key] = urllib3.HTTPConnectionPool(
                    target.address, target.port, timeout=timeout, maxsize=1, retries=False
                )
        return self.pools[key]


def _excerpt(response: urllib3.BaseHTTPResponse, *, deadline: float) -> str:
    """At most EXCERPT_BYTES of the answer, read until `deadline` at the latest (a receiver that
    drips its body cannot hold the sender). An answer read to its end gives its connection back for
    the next request; one cut off (longer, or too slow) has its connection closed."""
    kept = b""
    finished = False
    while True:
        chunk = response.read1(512)  # what has arrived (read would wait for all 512 bytes)
        if not chunk:
            finished = True
            break
        kept += chunk
        if len(kept) > services.EXCERPT_BYTES or time.monotonic() > deadline:
            break
    if finished:
        response.release_conn()
    else:
        response.close()
    return kept[: services.EXCERPT_BYTES].decode("utf-8", errors="replace")


def send_due(*, max_seconds: float = 50, threads: int | None = None, claim_size: int | None = None) -> int:
    """Send due deliveries until none is due or `max_seconds` have passed; returns how many attempts
    were made. With more than one thread each has its own database connection, closed at the end."""
    threads = threads or settings.WEBHOOK_SENDER_THREADS
    if connection.vendor == "sqlite":  # the demo's: one writer at a time, more threads would only wait
        threads = 1
    claim_size = claim_size or settings.WEBHOOK_CLAIM_SIZE
    deadline = time.monotonic() + max_seconds
    if threads == 1:
        return _send_until(deadline, claim_size)
    with ThreadPoolExecutor(threads, thread_name_prefix="webhook-sender") as pool:
        return sum(pool.map(_send_in_thread, [deadline] * threads, [claim_size] * threads))


def _send_in_thread(deadline: float, claim_size: int) -> int:
    try:
        return _send_until(deadline, claim_size)
    finally:
        connection.close()


def _send_until(deadline: float, claim_size: int) -> int:
    sender = Sender()
    attempts = 0
    try:
        while time.monotonic() < deadline and (claimed := claim(limit=claim_size)):
            sender.send_claimed(claimed)
            attempts += len(claimed)
    finally:
        sender.close()
    return attempts
