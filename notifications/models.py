"""Messages to members (docs/notifications.md): the program's notification settings, and one
notification per (domain event, kind, channel): sent, suppressed (and why) or waiting."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history import register as register_history

from .kinds import CHANNEL_CHOICES, kind_codes, kinds


def _every_kind() -> list[str]:
    return kind_codes()


def _no_kind() -> list[str]:
    return []


class NotificationSettings(models.Model):
    """The single row of the program's notification settings (pk is always 1)."""

    SINGLETON_PK = 1

    default_language = models.CharField(
        _("default language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="zh-hans",
        help_text=_("For members who have not chosen one."),
    )
    email_kinds = models.JSONField(_("sent by email"), default=_every_kind, blank=True)
    message_kinds = models.JSONField(
        _("sent as messages"),
        default=_no_kind,
        blank=True,
        help_text=_(
            "Handed to the storefront's messaging service (SMS, app push, mini-program) as the webhook event "
            "notification.requested. Turn kinds on once that service takes the event."
        ),
    )
    quiet_hours_start = models.TimeField(
        _("quiet hours start"),
        default=dt.time(21, 0),
        help_text=_("Marketing messages wait from this time until the end, in the program's time zone."),
    )
    quiet_hours_end = models.TimeField(
        _("quiet hours end"), default=dt.time(8, 0), help_text=_("The same as the start: no quiet hours.")
    )
    daily_marketing_cap = models.PositiveSmallIntegerField(
        _("marketing messages a day"),
        default=2,
        validators=[MaxValueValidator(20)],
        help_text=_("The most marketing messages one member gets on one day, per channel; more are suppressed."),
    )
    at_risk_days = models.PositiveSmallIntegerField(
        _("tier at risk notice (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(27)],
        help_text=_("Members whom the next tier recalculation would move down are told this many days before it."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="notification_settings_singleton")]

    def __str__(self) -> str:
        return str(_("Notification settings"))

    @classmethod
    def current(cls) -> NotificationSettings:
        found, _created = cls.objects.get_or_create(pk=cls.SINGLETON_PK)
        return found

    def channels_for(self, kind: str) -> list[str]:
        return [
            channel
            for channel, kinds in (
                (Notification.Channel.EMAIL, self.email_kinds),
                (Notification.Channel.MESSAGE, self.message_kinds),
            )
            if kind in kinds
        ]


class Notification(models.Model):
    """One message about one domain event to one member on one channel. Made once (the unique
    event, kind and channel), whatever the relay repeats; its status and reason say what became of it."""

    class Channel(models.TextChoices):
        EMAIL = CHANNEL_CHOICES[0]
        MESSAGE = CHANNEL_CHOICES[1]

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        SUPPRESSED = "suppressed", _("suppressed")
        FAILED = "failed", _("failed")

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    event_id = models.UUIDField(_("event"), help_text=_("The domain event it tells of."))
    marketing = models.BooleanField(_("marketing"), default=False)
    params = models.JSONField(_("details"), default=dict)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    # Why it was suppressed, waited or failed (notifications.reasons renders it in the reader's language).
    reason = models.CharField(_("reason"), max_length=20, blank=True)
    # When it is due; while sending, when an unfinished send may be taken again (the lease).
    send_after = models.DateTimeField(_("send after"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "kind", "channel"], name="notification_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="notification_member_idx"),
            models.Index(
                fields=["send_after"], condition=Q(status__in=["pending", "sending"]), name="notification_due_idx"
            ),
            models.Index(fields=["created_at"], name="notification_created_idx"),
        ]

    def __str__(self) -> str:
        kind = kinds.get(self.kind)
        return f"{kind.label if kind else self.kind} · {self.get_channel_display()}"


# Who changed the settings and when, as for the engine's settings (loyalty.models.history).
register_history(NotificationSettings)
