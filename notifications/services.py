"""Every change to notifications (docs/notifications.md): made from the domain events by the outbox
subscriber, sent by the sender task, consent withdrawn by the unsubscribe link.

A notification is made once per (event, kind, channel) and decided twice: when made (a closed
member, no email address, no marketing consent: suppressed at once) and again when sent (consent
withdrawn meanwhile, the kind turned off, quiet hours, the daily cap). Sending is at least once: a
sender that dies between sending and recording leaves the notification to be taken again when its
lease ends."""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import get_connection
from django.db import connection, transaction
from django.utils import timezone

from loyalty import outbox
from loyalty.background import start_soon
from loyalty.config import current_config
from loyalty.extensions import OutboxEvent
from members.errors import InvalidInput
from members.models import DomainEvent, DomainEventBatch, Member
from members.outbox import publish
from members.selectors import lock_member
from members.services import update_member

from . import reasons, rules
from .email import compose, message_text
from .kinds import Kind, kinds
from .models import Notification, NotificationSettings

logger = logging.getLogger(__name__)

# An event older than this when the relay hands it over (an import of past purchases, a backlog
# after an outage) tells no one: a member is not told today of a tier they reached last year.
MAX_EVENT_AGE = timedelta(hours=24)
# How long a sender holds a notification it took; after that another sender takes it again.
LEASE = timedelta(minutes=10)
# After a failed email: tried again after these waits, then failed.
RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
CLAIM_SIZE = 50
# How long the rest of a batch waits when the mail server cannot be reached.
MAIL_SERVER_WAIT = timedelta(minutes=1)
_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def _kinds_by_event_type() -> dict[str, list[tuple[str, Kind]]]:
    found: dict[str, list[tuple[str, Kind]]] = defaultdict(list)
    for code, kind in kinds.items():
        found[kind.event_type].append((code, kind))
    return found


def event_types() -> frozenset[str]:
    """The domain events some kind tells of."""
    return frozenset(kind.event_type for kind in kinds)


def obstacle(member: Member, *, marketing: bool, channel: str) -> str:
    """Why `member` may not get this notification now ("" if they may)."""
    if member.status != Member.Status.ACTIVE or member.anonymised_at is not None:
        return reasons.MEMBER_INACTIVE
    if channel == Notification.Channel.EMAIL and not member.email:
        return reasons.NO_ADDRESS
    if marketing and not member.marketing_opt_in:
        return reasons.NOT_OPTED_IN
    return ""


def make_notifications_between(after: int, upto: int) -> int:
    """The outbox subscriber, set-based (loyalty.extensions.Subscriber.handle_range): on PostgreSQL
    one INSERT … SELECT per kind over the outbox batches at positions (after, upto], the decisions
    made in SQL, so that the night's 400,000 tier moves are never loaded into Python. Elsewhere (the
    SQLite demo) `make_notifications` makes the same rows from the loaded events
    (tests/notifications/test_equivalence.py). Returns how many it made."""
    if connection.vendor != "postgresql":
        return make_notifications(list(outbox.events_between(after, upto, event_types())))
    config = NotificationSettings.current()
    now = timezone.now()
    made = 0
    with connection.cursor() as cursor:
        for code, kind in kinds.items():
            channels = config.channels_for(code)
            if not channels:
                continue
            params = ", ".join(f"'{name}', e.payload -> '{name}'" for name in kind.keeps)
            cursor.execute(
                _MAKE.format(params=params, applies=kind.applies_sql),
                {
                    "kind": code,
                    "event_type": kind.event_type,
                    "marketing": kind.marketing,
                    "channels": [str(channel) for channel in channels],
                    "language": config.default_language,
                    "after": after,
                    "upto": upto,
                    "now": now,
                    "cutoff": now - MAX_EVENT_AGE,
                },
            )
            made += cursor.rowcount
    if made:
        transaction.on_commit(_kick_sender)
    return made


# The reasons in the order `obstacle` gives them, after the age of the event.
_MAKE = f"""
    INSERT INTO {Notification._meta.db_table}
        (member_id, kind, channel, event_id, marketing, params, status, reason, send_after, attempts, language,
         created_at, sent_at, error)
    SELECT e.member_id, %(kind)s, channel, e.id, %(marketing)s, jsonb_build_object({{params}}),
           CASE WHEN decided.reason = '' THEN 'pending' ELSE 'suppressed' END, decided.reason, %(now)s, 0,
           COALESCE(NULLIF(m.language, ''), %(language)s), %(now)s, NULL, ''
    FROM {DomainEvent._meta.db_table} AS e
    JOIN {DomainEventBatch._meta.db_table} AS b ON b.id = e.batch_id
    JOIN {Member._meta.db_table} AS m ON m.id = e.member_id
    CROSS JOIN unnest(%(channels)s::text[]) AS channel
    CROSS JOIN LATERAL (
        SELECT CASE WHEN e.occurred_at < %(cutoff)s THEN '{reasons.TOO_OLD}'
                    WHEN m.status <> 'active' OR m.anonymised_at IS NOT NULL THEN '{reasons.MEMBER_INACTIVE}'
                    WHEN channel = 'email' AND m.email = '' THEN '{reasons.NO_ADDRESS}'
                    WHEN %(marketing)s AND NOT m.marketing_opt_in THEN '{reasons.NOT_OPTED_IN}'
                    ELSE '' END AS reason) AS decided
    WHERE b.position > %(after)s AND b.position <= %(upto)s AND e.type = %(event_type)s {{applies}}
    ON CONFLICT (event_id, kind, channel) DO NOTHING"""


def make_notifications(events: list[OutboxEvent]) -> int:
    """A notification per (event, kind, channel the program sends it on), suppressed at once when the
    member may not get it or the event is too old to tell of. Idempotent: the relay may hand events
    again. Returns how many it made."""
    config = NotificationSettings.current()
    now = timezone.now()
    by_type = _kinds_by_event_type()
    wanted = [
        (event, code, kind, channel)
        for event in events
        if event.member_id is not None
        for code, kind in by_type.get(event.type, ())
        if kind.applies(event.payload)
        for channel in config.channels_for(code)
    ]
    if not wanted:
        return 0
    members = Member.objects.only("id", "email", "status", "anonymised_at", "language", "marketing_opt_in")
    found = members.in_bulk({event.member_id for event, *_rest in wanted})
    rows = []
    for event, code, kind, channel in wanted:
        member = found.get(event.member_id)  # type: ignore[arg-type]
        if member is None:
            continue
        too_old = now - event.occurred_at > MAX_EVENT_AGE
        reason = reasons.TOO_OLD if too_old else obstacle(member, marketing=kind.marketing, channel=channel)
        rows.append(
            Notification(
                member_id=member.pk,
                kind=code,
                channel=channel,
                event_id=event.id,
                marketing=kind.marketing,
                params=kind.params(event.payload),
                status=Notification.Status.SUPPRESSED if reason else Notification.Status.PENDING,
                reason=reason,
                language=member.language or config.default_language,
                created_at=now,
                send_after=now,
            )
        )
    made = Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    if any(row.status == Notification.Status.PENDING for row in rows):
        transaction.on_commit(_kick_sender)
    return len(made)


def _kick_sender() -> None:
    """Start a sender now rather than at the next beat tick."""
    from .tasks import send_notifications  # the task module imports this one

    start_soon(send_notifications, what="a notification sender")


# --- sending ---------------------------------------------------------------------------------------


class MailServerAway(Exception):
    """The mail server could not be reached: the batch stops, the rest waits a little."""


def send_due(*, limit: int = CLAIM_SIZE) -> int:
    """Take up to `limit` due notifications and send (or suppress, or defer) each, over one
    connection to the mail server. Several senders at once take different ones. The batch stops
    halfway through its lease (the rest go back, for the next sender), and when the mail server
    cannot be reached (the rest wait a minute). Returns how many it took."""
    lease_end, taken = _claim(limit)
    if not taken:
        return 0
    config = NotificationSettings.current()
    stop_at = time.monotonic() + LEASE.total_seconds() / 2
    mail_server = get_connection()  # opened by the first email, kept for the rest
    try:
        for index, notification_id in enumerate(taken):
            if time.monotonic() > stop_at:
                _release(taken[index:], lease_end, wait=timedelta(0))
                break
            try:
                _send_one(notification_id, lease_end, config, mail_server)
            except MailServerAway:
                _release(taken[index + 1 :], lease_end, wait=MAIL_SERVER_WAIT)
                break
    finally:
        _close_quietly(mail_server)
    return len(taken)


def _claim(limit: int) -> tuple[datetime, list[int]]:
    """Take due notifications: each is marked "sending" until the returned lease end, which is also
    this sender's token on them (another sender's claim writes another)."""
    now = timezone.now()
    lease_end = now + LEASE
    with transaction.atomic():
        due = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status__in=(Notification.Status.PENDING, Notification.Status.SENDING), send_after__lte=now)
            .order_by("send_after")
            .values_list("pk", "status", "attempts")[:limit]
        )
        found = list(due)
        # Taken again after its sender died mid-send each time it had a try left: given up.
        given_up = [pk for pk, status, attempts in found if status == "sending" and attempts > len(RETRY_AFTER)]
        Notification.objects.filter(pk__in=given_up).update(
            status=Notification.Status.FAILED, reason=reasons.SEND_FAILED, sent_at=None
        )
        taken = [pk for pk, _status, _attempts in found if pk not in given_up]
        Notification.objects.filter(pk__in=taken).update(status=Notification.Status.SENDING, send_after=lease_end)
    return lease_end, taken


def _release(notification_ids: list[int], lease_end: datetime, *, wait: timedelta) -> None:
    """Give back what this sender took and did not start (its token still on them)."""
    Notification.objects.filter(
        pk__in=notification_ids, status=Notification.Status.SENDING, send_after=lease_end
    ).update(status=Notification.Status.PENDING, send_after=timezone.now() + wait)


def _close_quietly(mail_server) -> None:
    try:
        mail_server.close()
    except Exception:  # noqa: BLE001 - a connection that broke is being dropped anyway
        logger.debug("Closing the mail connection failed.", exc_info=True)


def _send_one(notification_id: int, lease_end: datetime, config: NotificationSettings, mail_server) -> None:
    """Decide and send one notification. The sender holds it by its claim's lease end until it
    starts; from then on by the attempt it counted: a sender that lost it to another records
    nothing. Whatever goes wrong with this notification is recorded on it, never on the batch;
    a mail server that cannot be reached stops the batch (MailServerAway)."""
    try:
        with transaction.atomic():
            member_id = Notification.objects.filter(pk=notification_id).values_list("member_id", flat=True).first()
            if member_id is None:
                return
            member = lock_member(member_id=member_id)  # the member first, as every service locks
            notification = (
                Notification.objects.select_for_update()
                .filter(pk=notification_id, status=Notification.Status.SENDING, send_after=lease_end)
                .first()
            )
            if notification is None:  # not ours any more
                return
            now = timezone.now()
            if not _may_send(notification, member, config, now):
                return
            notification.sent_at, notification.attempts = now, notification.attempts + 1
            notification.send_after = now + LEASE  # a fresh lease for this one send
            if notification.channel == Notification.Channel.MESSAGE:
                publish("notification.requested", member=member, payload=_requested(notification, config))
                notification.status, notification.reason, notification.error = Notification.Status.SENT, "", ""
                notification.save(update_fields=["status", "reason", "error", "sent_at", "attempts", "send_after"])
                return
            # Still "sending", but counted against the day's cap while the mail server is talked to.
            notification.save(update_fields=["sent_at", "attempts", "send_after"])
            email = compose(notification, member, config)
    except Exception as error:  # noqa: BLE001 - a template or data problem fails this one, not the batch
        logger.exception("Notification %s could not be written.", notification_id)
        _record_failure(notification_id, error, address="", attempt=None, lease_end=lease_end)
        return
    email.connection = mail_server
    try:
        mail_server.open()  # the first time only
    except Exception as error:  # noqa: BLE001 - unreachable: this one is tried again, the batch stops
        logger.warning("The mail server could not be reached.", exc_info=True)
        _record_failure(notification_id, error, address=member.email, attempt=notification.attempts)
        raise MailServerAway from error
    try:
        email.send()
    except Exception as error:  # noqa: BLE001 - whatever the mail backend raises, the notification says so
        logger.warning("Notification %s could not be sent.", notification_id, exc_info=True)
        _record_failure(notification_id, error, address=member.email, attempt=notification.attempts)
        _close_quietly(mail_server)  # a broken connection is opened afresh for the next one
    else:
        Notification.objects.filter(
            pk=notification_id, status=Notification.Status.SENDING, attempts=notification.attempts
        ).update(status=Notification.Status.SENT, reason="", error="")


def _may_send(notification: Notification, member: Member, config: NotificationSettings, now) -> bool:
    """Suppress or defer `notification` if it may not go now (and say so); True if it may."""
    reason = "" if notification.channel in config.channels_for(notification.kind) else reasons.CHANNEL_OFF
    reason = reason or obstacle(member, marketing=notification.marketing, channel=notification.channel)
    if not reason and notification.marketing:
        local_now = timezone.localtime(now, current_config().settings.zone)
        quiet_end = rules.quiet_until(local_now, config.quiet_hours_start, config.quiet_hours_end)
        if quiet_end is not None:
            notification.status, notification.reason, notification.send_after = (
                Notification.Status.PENDING,
                reasons.QUIET_HOURS,
                quiet_end,
            )
            notification.save(update_fields=["status", "reason", "send_after"])
            return False
        day_start, day_end = rules.day_bounds(local_now)
        sent_today = (
            Notification.objects.filter(
                member_id=member.pk,
                channel=notification.channel,
                marketing=True,
                status__in=(Notification.Status.SENT, Notification.Status.SENDING),
                sent_at__gte=day_start,
                sent_at__lt=day_end,
            )
            .exclude(pk=notification.pk)
            .count()
        )
        if sent_today >= config.daily_marketing_cap:
            reason = reasons.DAILY_CAP
    if reason:
        notification.status, notification.reason = Notification.Status.SUPPRESSED, reason
        notification.save(update_fields=["status", "reason"])
        return False
    return True


def _record_failure(
    notification_id: int, error: Exception, *, address: str, attempt: int | None, lease_end: datetime | None = None
) -> None:
    """Tried again after RETRY_AFTER's waits, then failed. A sender that counted an attempt passes
    it (`attempt`); one that failed before counting passes its claim (`lease_end`) and counts it
    now. Either way, a notification another sender holds meanwhile is left alone. The error is kept
    without the member's address."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.status != Notification.Status.SENDING:
            return
        if attempt is None:
            if notification.send_after != lease_end:
                return
            notification.attempts += 1
        elif notification.attempts != attempt:
            return
        retries_left = notification.attempts <= len(RETRY_AFTER)
        message = f"{type(error).__name__}: {error}"
        if address:
            message = re.sub(re.escape(address), "…", message, flags=re.IGNORECASE)
        notification.error = message[:500]
        notification.sent_at = None
        notification.status = Notification.Status.PENDING if retries_left else Notification.Status.FAILED
        notification.reason = reasons.RETRYING if retries_left else reasons.SEND_FAILED
        if retries_left:
            notification.send_after = timezone.now() + RETRY_AFTER[notification.attempts - 1]
        notification.save(update_fields=["attempts", "error", "sent_at", "status", "reason", "send_after"])


def _requested(notification: Notification, config: NotificationSettings) -> dict:
    """notification.requested: what the storefront's messaging service needs to send it itself, the
    text already written in the member's language. Like every domain event it holds no personal
    data: the text greets no one by name (the service may add the name it knows), and unsubscribing
    is the storefront's own call (PATCH members/{id}/ with marketing_opt_in false)."""
    title, text = message_text(notification, None, config)
    return {
        "notification_id": notification.pk,
        "kind": notification.kind,
        "marketing": notification.marketing,
        "language": notification.language,
        "title": title,
        "text": text,
        "details": notification.params,
    }


def check_settings(config: NotificationSettings) -> None:
    """The settings' cross-field rules (loyalty.services.configuration.ConfigWriter checks): the
    kinds each channel sends are a list of known kinds."""
    known = set(kinds.names())
    problems = {}
    for name in ("email_kinds", "message_kinds"):
        chosen = getattr(config, name)
        if not isinstance(chosen, list) or not all(isinstance(code, str) for code in chosen):
            problems[name] = ["A list of notification kinds."]
        elif unknown := sorted(set(chosen) - known):
            problems[name] = [f"Unknown kinds: {', '.join(unknown)}."]
    if problems:
        raise InvalidInput("The notification settings are not valid.", fields=problems)


# --- consent ---------------------------------------------------------------------------------------


def unsubscribe_token(member: Member) -> str:
    return signing.Signer(salt=_UNSUBSCRIBE_SALT).sign(str(member.pk))


def unsubscribe_url(member: Member) -> str:
    return f"{settings.NOTIFICATIONS_SITE_URL.rstrip('/')}/notifications/unsubscribe/{unsubscribe_token(member)}/"


def member_of_token(token: str) -> Member | None:
    """The member an unsubscribe link was made for, or None for a link that was not made here."""
    try:
        member_id = int(signing.Signer(salt=_UNSUBSCRIBE_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return Member.objects.filter(pk=member_id).first()


def unsubscribe(*, token: str) -> Member | None:
    """The member of the link no longer gets marketing messages (their consent withdrawn through the
    same service as a profile change, so it is published as member.updated). None: not a link of ours."""
    member = member_of_token(token)
    if member is None:
        return None
    if member.marketing_opt_in:
        member = update_member(member=member, changes={"marketing_opt_in": False})
    return member


# --- housekeeping ----------------------------------------------------------------------------------


def erase_errors(member: Member) -> None:
    """Anonymising: the mail servers' answers kept on the member's notifications may quote them."""
    Notification.objects.filter(member=member).exclude(error="").update(error="")


def prune_finished(*, now=None) -> int:
    """Remove finished notifications older than NOTIFICATION_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    finished = (Notification.Status.SENT, Notification.Status.SUPPRESSED, Notification.Status.FAILED)
    removed, _by_model = Notification.objects.filter(created_at__lt=cutoff, status__in=finished).delete()
    return removed
