"""Every change to endpoints and deliveries (docs/webhooks.md). Each function is one transaction,
locks what it changes and checks the staff actor's permission (None: the system — the relay, the
senders, a management command run on the server)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import uuid6
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty import outbox
from loyalty.background import start_soon
from loyalty.extensions import OutboxEvent
from members.inputs import text_problem
from members.models import DomainEvent, DomainEventBatch, Member
from members.permissions import require_permission

from . import egress, messages, notices, signing
from .errors import EndpointDisabled, InvalidEndpoint
from .models import Attempt, Delivery, Endpoint, EndpointSecret
from .retries import LONGEST_WAIT, Outcome, Verdict, retryable

logger = logging.getLogger(__name__)
MAX_DESCRIPTION = 200
QUIET_SPELL = LONGEST_WAIT * 1.2  # longer than the longest wait between retries, jitter included
FAILURE_NOTED_EVERY = timedelta(minutes=5)  # last_failure_at is kept this fresh: few writes on a busy endpoint
EXCERPT_BYTES = 2048


@transaction.atomic
def create_endpoint(
    *,
    url: str,
    event_types: str | Sequence[str],
    description: str = "",
    secret: str | None = None,
    include_personal_data: bool = False,
    actor=None,
) -> tuple[Endpoint, str]:
    """A new active endpoint and its signing secret (generated unless given): the secret is
    returned here and never shown again."""
    require_permission(actor, "webhooks.add_endpoint", _("You may not add webhook endpoints."))
    url, patterns, description = validate_endpoint(
        url=url, event_types=event_types, description=description, secret=secret
    )
    secret = secret or signing.new_secret()
    endpoint = Endpoint.objects.create(
        url=url,
        event_types=patterns,
        description=description,
        include_personal_data=include_personal_data,
        created_by=actor,
    )
    EndpointSecret.objects.create(endpoint=endpoint, secret=secret)
    return endpoint, secret


@transaction.atomic
def change_endpoint(
    *,
    endpoint: Endpoint,
    url: str,
    event_types: str | Sequence[str],
    description: str,
    include_personal_data: bool,
    actor=None,
) -> Endpoint:
    """New settings for what later deliveries are made (deliveries already made keep their body)."""
    require_permission(actor, "webhooks.change_endpoint", _("You may not change webhook endpoints."))
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.url, endpoint.event_types, endpoint.description = validate_endpoint(
        url=url, event_types=event_types, description=description
    )
    if endpoint.include_personal_data and not include_personal_data:
        _strip_contacts(endpoint.deliveries.filter(status=Delivery.Status.PENDING))  # nor what still waits
    endpoint.include_personal_data = include_personal_data
    endpoint.save(update_fields=["url", "event_types", "description", "include_personal_data"])
    return endpoint


@transaction.atomic
def rotate_secret(
    *, endpoint: Endpoint, secret: str | None = None, overlap: timedelta | None = None, actor=None
) -> str:
    """A new current secret; the previous one stays valid (and is signed with too) for `overlap`
    (WEBHOOK_SECRET_OVERLAP_HOURS), so receivers can switch without rejecting a delivery."""
    require_permission(actor, "webhooks.change_endpoint", _("You may not change webhook endpoints."))
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if secret is not None:
        _check_secret(secret)
    secret = secret or signing.new_secret()
    now = timezone.now()
    overlap = timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS) if overlap is None else overlap
    endpoint.secrets.filter(expires_at__isnull=True).update(expires_at=now + overlap)
    endpoint.secrets.filter(expires_at__lte=now).delete()
    EndpointSecret.objects.create(endpoint=endpoint, secret=secret, created_at=now)
    return secret


@transaction.atomic
def pause_endpoint(*, endpoint: Endpoint, actor=None) -> Endpoint:
    """Hold its deliveries (new ones still queue) until it is resumed."""
    require_permission(actor, "webhooks.change_endpoint", _("You may not change webhook endpoints."))
    endpoint = _set_status(endpoint, Endpoint.Status.PAUSED, Endpoint.Reason.STAFF)
    _hold_waiting(endpoint.pk)
    return endpoint


@transaction.atomic
def resume_endpoint(*, endpoint: Endpoint, actor=None) -> Endpoint:
    """Send again: the waiting deliveries go first, at once."""
    require_permission(actor, "webhooks.change_endpoint", _("You may not change webhook endpoints."))
    endpoint = _set_status(endpoint, Endpoint.Status.ACTIVE, "")
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
    # Not those a sender holds (their lease): it records them itself, and updating its rows in
    # another order than it does could deadlock with it.
    endpoint.deliveries.filter(status=Delivery.Status.PENDING, lease__isnull=True).update(
        next_attempt_at=timezone.now()
    )
    return endpoint


@transaction.atomic
def disable_endpoint(*, endpoint: Endpoint, actor=None) -> Endpoint:
    """No new deliveries; the waiting ones stay until it is resumed."""
    require_permission(actor, "webhooks.change_endpoint", _("You may not change webhook endpoints."))
    endpoint = _set_status(endpoint, Endpoint.Status.DISABLED, Endpoint.Reason.STAFF)
    _hold_waiting(endpoint.pk)
    return endpoint


def _hold_waiting(endpoint_id: int) -> None:
    """The waiting deliveries of an endpoint that stopped come due at no time (until it is resumed),
    so that the senders' claims, which walk the due ones in order, never walk past them. Not those
    a sender holds (their lease): it records them itself, and the stop reaches them then."""
    Delivery.objects.filter(endpoint_id=endpoint_id, status=Delivery.Status.PENDING, lease__isnull=True).update(
        next_attempt_at=None
    )


def _set_status(endpoint: Endpoint, status: str, reason: str) -> Endpoint:
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.status, endpoint.status_reason, endpoint.status_changed_at = status, reason, timezone.now()
    endpoint.save(update_fields=["status", "status_reason", "status_changed_at"])
    return endpoint


@transaction.atomic
def resend_delivery(*, delivery: Delivery, actor=None) -> Delivery:
    """Send it again now, with the same webhook-id (whatever its status), and with the retries anew."""
    require_permission(actor, "webhooks.resend_delivery", _("You may not resend webhook deliveries."))
    delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery.pk)
    _queue_again(Delivery.objects.filter(pk=delivery.pk), delivery.endpoint)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def replay_deliveries(*, endpoint: Endpoint, since: datetime, only_failed: bool = True, actor=None) -> int:
    """Send again every delivery of `endpoint` made since `since` (only the failed ones, or all):
    same ids, so receivers that already have one drop it. Returns how many."""
    require_permission(actor, "webhooks.resend_delivery", _("You may not resend webhook deliveries."))
    if timezone.is_naive(since):
        raise InvalidEndpoint(_("The moment needs a time zone."))
    chosen = Delivery.objects.filter(endpoint=endpoint, created_at__gte=since)
    chosen = (
        chosen.filter(status=Delivery.Status.FAILED) if only_failed else chosen.exclude(status=Delivery.Status.PENDING)
    )
    return _queue_again(chosen, endpoint)


def _queue_again(deliveries, endpoint: Endpoint) -> int:
    # A retry series starts again: attempts counts the attempts of this series (the log keeps all).
    # An endpoint that is not active holds them until it is resumed.
    due = timezone.now() if endpoint.status == Endpoint.Status.ACTIVE else None
    return deliveries.update(status=Delivery.Status.PENDING, attempts=0, next_attempt_at=due, lease=None)


@transaction.atomic
def send_test_event(*, endpoint: Endpoint, actor=None) -> Delivery:
    """A `webhook.test` delivery, sent like any other (with its retries) whatever the endpoint
    subscribes to; refused for a disabled endpoint."""
    require_permission(actor, "webhooks.change_endpoint", _("You may not change webhook endpoints."))
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.status == Endpoint.Status.DISABLED:
        raise EndpointDisabled(_("The endpoint is disabled."))
    now = timezone.now()
    event_id = str(uuid6.uuid7())
    text = messages.body(
        event_id=event_id,
        event_type=messages.TEST_EVENT,
        schema_version=1,
        occurred_at=now,
        member="",
        sequence=None,
        data={"endpoint": endpoint.pk, "sent_by": actor.get_username() if actor is not None else ""},
    )
    due = now if endpoint.status == Endpoint.Status.ACTIVE else None  # a paused one holds it
    delivery = Delivery.objects.create(
        endpoint=endpoint, event_id=event_id, event_type=messages.TEST_EVENT, body=text, next_attempt_at=due
    )
    transaction.on_commit(_kick_senders)
    return delivery


def create_deliveries(events: list[OutboxEvent]) -> int:
    """The outbox subscriber (runs in the relay's transaction): a delivery for each event and each
    active or paused endpoint that takes its type. The unique (endpoint, event) pair makes a second
    hand-over of the same events (a relay that died before it committed its progress) add nothing."""
    endpoints = list(Endpoint.objects.exclude(status=Endpoint.Status.DISABLED))
    if not endpoints or not events:
        return 0
    contacts = _contacts(events) if any(e.include_personal_data for e in endpoints) else {}
    now = timezone.now()
    rows = []
    for event in events:
        for endpoint in endpoints:
            if not messages.matches(endpoint.event_types, event.type):
                continue
            contact = None
            if endpoint.include_personal_data and event.member_id is not None:
                contact = contacts.get(event.member_id, {"email": "", "phone": ""})
            rows.append(
                Delivery(
                    endpoint_id=endpoint.pk,
                    event_id=uuid.UUID(event.id),
                    event_type=event.type,
                    member_id=event.member_id,
                    body=messages.body(
                        event_id=event.id,
                        event_type=event.type,
                        schema_version=event.schema_version,
                        occurred_at=event.occurred_at,
                        member=event.member,
                        sequence=event.sequence,
                        data=event.payload,
                        contact=contact,
                    ),
                    created_at=now,
                    next_attempt_at=now if endpoint.status == Endpoint.Status.ACTIVE else None,
                )
            )
    if rows:
        Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
        transaction.on_commit(_kick_senders)
    return len(rows)


def create_deliveries_between(after: int, upto: int) -> int:
    """The outbox subscriber, set-based (loyalty.extensions.Subscriber.handle_range): on PostgreSQL
    one INSERT … SELECT per endpoint over the outbox batches at positions (after, upto], the body
    built in SQL, so the relay neither loads the events nor builds a body in Python. Elsewhere
    (SQLite: the demo) the events are loaded and `create_deliveries` makes them. Returns how many
    deliveries it made."""
    if connection.vendor != "postgresql":
        return create_deliveries(list(outbox.events_between(after, upto)))
    made = 0
    with connection.cursor() as cursor:
        for endpoint in Endpoint.objects.exclude(status=Endpoint.Status.DISABLED):
            cursor.execute(
                _FAN_OUT.format(contact=_SQL_CONTACT if endpoint.include_personal_data else ""),
                {
                    "endpoint": endpoint.pk,
                    "after": after,
                    "upto": upto,
                    "due": timezone.now() if endpoint.status == Endpoint.Status.ACTIVE else None,
                    **_sql_patterns(endpoint.event_types),
                },
            )
            made += cursor.rowcount
    if made:
        transaction.on_commit(_kick_senders)
    return made


def _sql_patterns(patterns: list[str]) -> dict[str, Any]:
    """The patterns as the SQL's parameters: every type, exact types, and LIKE prefixes."""
    # A pattern holds only a-z, "_" and ".": "_" is LIKE's one-character wildcard, escaped.
    prefixes = [p[:-1].replace("_", "\\_") + "%" for p in patterns if p.endswith(".*")]
    return {
        "everything": "*" in patterns,
        "exact": [p for p in patterns if p != "*" and not p.endswith(".*")],
        "prefixes": prefixes,
    }


# The body as messages.body makes it (jsonb's own formatting of the same fields); the contact only
# for an endpoint with personal data, and only for events about a member.
_FAN_OUT = f"""
    INSERT INTO {Delivery._meta.db_table}
        (endpoint_id, event_id, event_type, member_id, body, status, attempts, next_attempt_at, created_at, last_error)
    SELECT %(endpoint)s, e.id, e.type, e.member_id,
           (jsonb_build_object(
               'id', e.id, 'type', e.type, 'schema_version', e.schema_version,
               'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'member', NULLIF(e.member_external_id, ''), 'sequence', e.member_sequence, 'data', e.payload)
            {{contact}})::text,
           'pending', 0, %(due)s, now(), ''
    FROM {DomainEvent._meta.db_table} AS e
    JOIN {DomainEventBatch._meta.db_table} AS b ON b.id = e.batch_id
    WHERE b.position > %(after)s AND b.position <= %(upto)s
      AND (%(everything)s OR e.type = ANY(%(exact)s) OR e.type LIKE ANY(%(prefixes)s))
    ORDER BY b.position, e.member_id, e.member_sequence
    ON CONFLICT (endpoint_id, event_id) DO NOTHING"""
_SQL_CONTACT = f"""|| CASE WHEN e.member_id IS NULL THEN '{{}}'::jsonb ELSE jsonb_build_object('contact', COALESCE(
                (SELECT jsonb_build_object('email', m.email, 'phone', m.phone)
                 FROM {Member._meta.db_table} AS m WHERE m.id = e.member_id),
                jsonb_build_object('email', '', 'phone', ''))) END"""


def _contacts(events: list[OutboxEvent]) -> dict[int, dict[str, str]]:
    ids = {e.member_id for e in events if e.member_id is not None}
    return {
        pk: {"email": email, "phone": phone}
        for pk, email, phone in Member.objects.filter(pk__in=ids).values_list("pk", "email", "phone")
    }


def _kick_senders() -> None:
    """Start a sender now rather than at the next beat tick (a few seconds later)."""
    from .tasks import send_deliveries  # the task module imports this one

    start_soon(send_deliveries, what="a webhook sender")


@dataclass(frozen=True)
class AttemptResult:
    """What a sender saw when it tried a delivery it had claimed."""

    delivery_id: int
    endpoint_id: int
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: Outcome
    response_excerpt: str = ""
    error: str = ""
    error_detail: str = ""


@transaction.atomic
def record_attempts(*, lease: uuid.UUID, results: Sequence[AttemptResult], unsent: Sequence[int] = ()) -> None:
    """A sender's attempts at the deliveries it claimed with `lease`, logged, and what they mean
    for the deliveries and their endpoints, in one transaction; the claim's `unsent` deliveries
    (their endpoint stopped meanwhile) are due again at once, for when it is resumed. A delivery
    whose lease ran out and was claimed again by another sender gets only its log entry: the state
    is the other sender's to set."""
    if unsent:
        Delivery.objects.filter(pk__in=unsent, lease=lease).update(lease=None, next_attempt_at=timezone.now())
    if not results:
        return
    Attempt.objects.bulk_create(
        Attempt(
            delivery_id=r.delivery_id,
            endpoint_id=r.endpoint_id,
            attempted_at=r.attempted_at,
            status_code=r.status_code,
            duration_ms=r.duration_ms,
            response_excerpt=r.response_excerpt[:EXCERPT_BYTES],
            error=r.error,
            error_detail=r.error_detail[:500],
        )
        for r in results
    )
    now = timezone.now()
    # One UPDATE per distinct new state: a claim's successes (the usual case) share one.
    changes: dict[tuple, list[int]] = {}
    for result in results:
        changes.setdefault(_new_state(result, now), []).append(result.delivery_id)
    for (status, next_attempt_at, delivered_at, status_code, error), ids in changes.items():
        Delivery.objects.filter(pk__in=ids, lease=lease).update(
            status=status,
            next_attempt_at=next_attempt_at,
            delivered_at=delivered_at,
            last_status_code=status_code,
            last_error=error,
            attempts=F("attempts") + 1,
            lease=None,
        )
    _endpoint_health(results, now)


def _unavailable(result: AttemptResult) -> bool:
    """No answer, 429 or 5xx: the endpoint is down. Other failures (a 4xx for this message, a
    refused address) say nothing about whether it is up."""
    return result.error != Attempt.Error.REFUSED_ADDRESS and retryable(result.status_code)


def _new_state(result: AttemptResult, now: datetime) -> tuple:
    """(status, next attempt, delivered at, last status code, last error) after `result`."""
    verdict = result.outcome.verdict
    if verdict is Verdict.DELIVERED:
        return Delivery.Status.DELIVERED, None, now, result.status_code, ""
    if verdict is Verdict.RETRY:
        retry_at = now + (result.outcome.retry_in or timedelta(0))
        return Delivery.Status.PENDING, retry_at, None, result.status_code, result.error
    return Delivery.Status.FAILED, None, None, result.status_code, result.error


def _endpoint_health(results: Sequence[AttemptResult], now: datetime) -> None:
    """Per endpoint of the results: a success clears its failing clock; a 410 disables it; failures
    start the clock, and a clock older than WEBHOOK_PAUSE_AFTER_HOURS pauses it. Writes only when
    the state changes, so that busy senders do not queue on the endpoint's row; in the endpoints'
    order, so that two senders never lock two endpoints in opposite orders."""
    verdicts: dict[int, set[Verdict]] = {}
    unavailable: set[int] = set()  # endpoints that timed out, could not be reached, or answered 429/5xx
    for result in results:
        verdicts.setdefault(result.endpoint_id, set()).add(result.outcome.verdict)
        if result.outcome.verdict is not Verdict.DELIVERED and _unavailable(result):
            unavailable.add(result.endpoint_id)
    window = timedelta(hours=settings.WEBHOOK_PAUSE_AFTER_HOURS)
    for endpoint_id, seen in sorted(verdicts.items()):
        endpoints = Endpoint.objects.filter(pk=endpoint_id)
        if Verdict.GONE in seen:
            if endpoints.exclude(status=Endpoint.Status.DISABLED).update(
                status=Endpoint.Status.DISABLED, status_reason=Endpoint.Reason.GONE, status_changed_at=now
            ):
                _hold_waiting(endpoint_id)
                notices.endpoint_stopped(endpoint_id)
        elif Verdict.DELIVERED in seen:
            endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        elif endpoint_id in unavailable:
            # The clock starts at the first failure, and again after a quiet spell longer than any
            # wait between retries (a failure days after the last one is not a day of failures).
            endpoints.filter(Q(failing_since__isnull=True) | Q(last_failure_at__lt=now - QUIET_SPELL)).update(
                failing_since=now
            )
            endpoints.filter(Q(last_failure_at__isnull=True) | Q(last_failure_at__lt=now - FAILURE_NOTED_EVERY)).update(
                last_failure_at=now
            )
            if endpoints.filter(status=Endpoint.Status.ACTIVE, failing_since__lte=now - window).update(
                status=Endpoint.Status.PAUSED, status_reason=Endpoint.Reason.FAILING, status_changed_at=now
            ):
                _hold_waiting(endpoint_id)
                notices.endpoint_stopped(endpoint_id)


def prune_finished(*, now: datetime | None = None, limit: int = 5_000) -> int:
    """Remove deliveries finished (delivered or failed) more than WEBHOOK_RETENTION_DAYS ago, with
    their attempts, `limit` at a time (each its own transaction); returns how many. Pending ones
    stay whatever their age."""
    before = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    old = Delivery.objects.filter(created_at__lt=before).exclude(status=Delivery.Status.PENDING)
    removed = 0
    while ids := list(old.order_by("id").values_list("id", flat=True)[:limit]):
        with transaction.atomic():
            # Locked and still finished: one replayed since it was picked waits to be sent instead.
            ids = list(old.filter(id__in=ids).select_for_update(skip_locked=True).values_list("id", flat=True))
            Attempt.objects.filter(delivery_id__in=ids).delete()
            removed += Delivery.objects.filter(id__in=ids).delete()[0]
        if not ids:  # all taken meanwhile: the next run picks up what is left
            break
    return removed


def erase_contacts(member: Member) -> None:
    """Anonymising (loyalty.extensions.personal_data_erasers): the email and phone in the member's
    deliveries' bodies."""
    _strip_contacts(Delivery.objects.filter(member_id=member.pk))


def _strip_contacts(deliveries) -> None:
    # PostgreSQL writes '"contact": ', Python '"contact":'.
    for delivery in deliveries.filter(body__contains='"contact"').only("id", "body"):
        Delivery.objects.filter(pk=delivery.pk).update(body=messages.without_contact(delivery.body))


def validate_endpoint(
    *, url: str, event_types: str | Sequence[str], description: str, secret: str | None = None
) -> tuple[str, list[str], str]:
    """The endpoint's fields as stored (the URL and description stripped, the patterns parsed);
    InvalidEndpoint, with the problem per field, for any that cannot be."""
    problems: dict[str, list[str]] = {}
    checked: dict[str, object] = {}
    for field, check in (
        ("url", lambda: _checked_url(url)),
        ("event_types", lambda: _checked_patterns(event_types)),
        ("description", lambda: _checked_text(description, field="description", limit=MAX_DESCRIPTION)),
        ("secret", lambda: _check_secret(secret) if secret is not None else None),
    ):
        try:
            checked[field] = check()
        except InvalidEndpoint as invalid:
            problems.update(invalid.fields)
    if problems:
        raise InvalidEndpoint(" ".join(p for found in problems.values() for p in found), fields=problems)
    return checked["url"], checked["event_types"], checked["description"]  # type: ignore[return-value]


def _check_secret(secret: str) -> None:
    if not signing.valid_secret(secret):
        message = _("A secret is whsec_ followed by base64 of 24 to 64 bytes.")
        raise InvalidEndpoint(message, fields={"secret": [message]})


def _checked_url(url: str) -> str:
    url = _checked_text(url, field="url", limit=2000)
    try:
        URLValidator(schemes=["https", "http"])(url)
        egress.check_url(url)
    except ValidationError as invalid:
        raise InvalidEndpoint(" ".join(invalid.messages), fields={"url": invalid.messages}) from None
    return url


def _checked_patterns(event_types: str | Sequence[str]) -> list[str]:
    try:
        return messages.parse_patterns(event_types)
    except ValueError as bad:
        message = (
            _("%(pattern)s is not an event type, a prefix with .* or *.") % {"pattern": bad.args[0]}
            if bad.args[0]
            else _("Name at least one event type.")
        )
        raise InvalidEndpoint(message, fields={"event_types": [message]}) from None


def _checked_text(value: str, *, field: str, limit: int) -> str:
    problem = text_problem(value) or (
        _("At most %(limit)d characters.") % {"limit": limit} if len(value) > limit else None
    )
    if problem:
        raise InvalidEndpoint(problem, fields={field: [problem]})
    return value.strip()
