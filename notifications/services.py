"""Every change to notifications (docs/notifications.md): made from the domain events by the outbox
subscriber, sent by the sender task, consent withdrawn by the unsubscribe link.

A notification is made once per (event, kind, channel) and decided twice: when made (a closed
member, no email address, no marketing consent: suppressed at once) and again when sent (consent
withdrawn meanwhile, the kind turned off, quiet hours, the daily cap). Sending is at least once: a
sender that dies between sending and recording leaves the notification to be taken again when its
lease ends."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import OperationalError, transaction
from django.utils import timezone

from loyalty.config import current_config
from loyalty.extensions import OutboxEvent
from members.errors import InvalidInput
from members.models import Member
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
_UNSUBSCRIBE_SALT = "notifications.unsubscribe"


def _kinds_by_event_type() -> dict[str, list[tuple[str, Kind]]]:
    found: dict[str, list[tuple[str, Kind]]] = defaultdict(list)
    for code, kind in kinds.items():
        found[kind.event_type].append((code, kind))
    return found


def event_types() -> frozenset[str]:
    """The domain events some kind tells of: what the outbox subscriber is handed."""
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


def notify_from_events(events: list[OutboxEvent]) -> None:
    """The outbox subscriber: a notification per (event, kind, channel the program sends it on),
    suppressed at once when the member may not get it. Idempotent: the relay may hand events again."""
    config = NotificationSettings.current()
    now = timezone.now()
    by_type = _kinds_by_event_type()
    wanted = [
        (event, code, kind, channel)
        for event in events
        if event.member_id is not None and now - event.occurred_at <= MAX_EVENT_AGE
        for code, kind in by_type.get(event.type, ())
        if kind.applies(event.payload)
        for channel in config.channels_for(code)
    ]
    if not wanted:
        return
    members = Member.objects.only("id", "email", "status", "anonymised_at", "language", "marketing_opt_in")
    found = members.in_bulk({event.member_id for event, *_rest in wanted})
    rows = []
    for event, code, kind, channel in wanted:
        member = found.get(event.member_id)  # type: ignore[arg-type]
        if member is None:
            continue
        reason = obstacle(member, marketing=kind.marketing, channel=channel)
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
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(row.status == Notification.Status.PENDING for row in rows):
        transaction.on_commit(_kick_sender)


def _kick_sender() -> None:
    """Send now rather than at the next beat tick. Not where tasks run eagerly (the demo): there it
    would send inside the relay's own run; beat's tick does it."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    from .tasks import send_notifications  # the task module imports this one

    try:
        send_notifications.delay()
    except OperationalError:
        logger.warning("Could not start a notification sender; beat's next tick will.", exc_info=True)


# --- sending ---------------------------------------------------------------------------------------


def send_due(*, limit: int = CLAIM_SIZE) -> int:
    """Take up to `limit` due notifications and send (or suppress, or defer) each. Several senders
    at once take different ones. Returns how many it took."""
    taken = _claim(limit)
    config = NotificationSettings.current()
    for notification_id in taken:
        _send_one(notification_id, config)
    return len(taken)


def _claim(limit: int) -> list[int]:
    now = timezone.now()
    with transaction.atomic():
        due = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status__in=(Notification.Status.PENDING, Notification.Status.SENDING), send_after__lte=now)
            .order_by("send_after")
            .values_list("pk", flat=True)[:limit]
        )
        taken = list(due)
        Notification.objects.filter(pk__in=taken).update(status=Notification.Status.SENDING, send_after=now + LEASE)
    return taken


def _send_one(notification_id: int, config: NotificationSettings) -> None:
    email = None
    with transaction.atomic():
        member_id = Notification.objects.filter(pk=notification_id).values_list("member_id", flat=True).first()
        if member_id is None:
            return
        member = lock_member(member_id=member_id)  # the member first, as every service locks
        notification = (
            Notification.objects.select_for_update()
            .filter(pk=notification_id, status=Notification.Status.SENDING)
            .first()
        )
        if notification is None:  # another sender finished it meanwhile
            return
        now = timezone.now()
        if not _may_send(notification, member, config, now):
            return
        notification.sent_at, notification.attempts = now, notification.attempts + 1
        if notification.channel == Notification.Channel.MESSAGE:
            publish("notification.requested", member=member, payload=_requested(notification, member, config))
            notification.status, notification.reason, notification.error = Notification.Status.SENT, "", ""
            notification.save(update_fields=["status", "reason", "error", "sent_at", "attempts"])
            return
        # Still "sending", but counted against the day's cap while the mail server is talked to.
        notification.save(update_fields=["sent_at", "attempts"])
        email = compose(notification, member, config)
    try:
        email.send()
    except Exception as error:  # noqa: BLE001 - whatever the mail backend raises, the notification says so
        logger.warning("Notification %s could not be sent.", notification_id, exc_info=True)
        _record_failure(notification, error)
    else:
        Notification.objects.filter(pk=notification_id, status=Notification.Status.SENDING).update(
            status=Notification.Status.SENT, reason="", error=""
        )


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


def _record_failure(notification: Notification, error: Exception) -> None:
    retries_left = notification.attempts <= len(RETRY_AFTER)
    changes: dict[str, Any] = {
        "sent_at": None,
        "error": f"{type(error).__name__}: {error}"[:500],
        "status": Notification.Status.PENDING if retries_left else Notification.Status.FAILED,
        "reason": reasons.RETRYING if retries_left else reasons.SEND_FAILED,
    }
    if retries_left:
        changes["send_after"] = timezone.now() + RETRY_AFTER[notification.attempts - 1]
    Notification.objects.filter(pk=notification.pk, status=Notification.Status.SENDING).update(**changes)


def _requested(notification: Notification, member: Member, config: NotificationSettings) -> dict:
    """notification.requested: what the storefront's messaging service needs to send it itself,
    the text already written in the member's language."""
    title, text = message_text(notification, member, config)
    return {
        "notification_id": notification.pk,
        "kind": notification.kind,
        "marketing": notification.marketing,
        "language": notification.language,
        "title": title,
        "text": text,
        "details": notification.params,
        "unsubscribe_url": unsubscribe_url(member) if notification.marketing else None,
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


def prune_finished(*, now=None) -> int:
    """Remove finished notifications older than NOTIFICATION_RETENTION_DAYS."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    finished = (Notification.Status.SENT, Notification.Status.SUPPRESSED, Notification.Status.FAILED)
    removed, _by_model = Notification.objects.filter(created_at__lt=cutoff, status__in=finished).delete()
    return removed
