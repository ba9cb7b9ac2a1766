"""Outbound webhooks (docs/webhooks.md): the endpoints storefronts, CRMs and messaging services
register, their signing secrets, and one delivery per (domain event, endpoint) with every attempt
to send it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Endpoint(models.Model):
    """Where deliveries go. Active endpoints are sent to; paused ones keep their deliveries waiting
    (new ones still queue); disabled ones get no new deliveries."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        PAUSED = "paused", _("paused")
        DISABLED = "disabled", _("disabled")

    class Reason(models.TextChoices):
        STAFF = "staff", _("by staff")
        GONE = "gone", _("the endpoint answered 410 Gone")
        FAILING = "failing", _("every delivery failed for 24 hours")

    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(
        _("event types"),
        default=list,
        help_text=_("Exact types (tier.upgraded) or wildcards (tier.*, or * for every type)."),
    )
    include_personal_data = models.BooleanField(
        _("include personal data"),
        default=False,
        help_text=_("Add the member's email and phone to each delivery (off: ids, codes and amounts only)."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(_("status reason"), max_length=16, choices=Reason.choices, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    # The first failed attempt since the last success: an endpoint failing for a day is paused.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    # Within a few minutes: a failure long after the last one starts the clock again.
    last_failure_at = models.DateTimeField(_("last failure at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description or self.url


class EndpointSecret(models.Model):
    """A signing secret (`whsec_` and base64). The current one has no expiry; a rotated one stays
    valid, and is signed with too, until `expires_at`."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="secrets")
    # Kept as it is, not hashed: HMAC signing needs the secret itself.
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("endpoint secret")
        verbose_name_plural = _("endpoint secrets")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"], condition=models.Q(expires_at__isnull=True), name="webhook_one_current_secret"
            )
        ]

    def __str__(self) -> str:
        return f"{self.secret[:10]}…"  # never the whole secret


class Delivery(models.Model):
    """One domain event for one endpoint: created once (the unique pair), sent until a 2xx or the
    retries run out. `body` is the exact bytes signed, the same on every attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The outbox event's id (the webhook-id header); not a foreign key: the outbox is pruned.
    event_id = models.UUIDField(_("event id"))
    event_type = models.CharField(_("event type"), max_length=64)
    member_id = models.BigIntegerField(_("member"), null=True, blank=True)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # A sender's claim (webhooks.sending): its token, while next_attempt_at is moved past the time the
    # sender needs; a sender that dies leaves the delivery to come due again then.
    lease = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        permissions = [("resend_delivery", _("Can resend and replay webhook deliveries"))]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_one_delivery_per_event")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due_idx",
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_endpoint_idx"),
            models.Index(fields=["member_id"], name="webhook_delivery_member_idx"),
            models.Index(fields=["event_id"], name="webhook_delivery_event_idx"),  # the admin's search
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint}"


class Attempt(models.Model):
    """One try at sending a delivery: what came back, or why nothing did."""

    class Error(models.TextChoices):
        TIMEOUT = "timeout", _("timed out")
        CONNECTION = "connection", _("connection failed")
        REFUSED_ADDRESS = "refused_address", _("address refused (private, loopback or not HTTPS)")
        REDIRECT = "redirect", _("redirect not followed")
        STATUS = "status", _("answered with an error status")
        GONE = "gone", _("410 Gone: the endpoint was disabled")

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="+")
    attempted_at = models.DateTimeField(_("attempted at"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    response_excerpt = models.TextField(_("response excerpt"), blank=True)
    error = models.CharField(_("error"), max_length=32, choices=Error.choices, blank=True)
    error_detail = models.CharField(_("error detail"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["delivery", "attempted_at", "id"]
        indexes = [models.Index(fields=["endpoint", "attempted_at"], name="webhook_attempt_endpoint_idx")]

    def __str__(self) -> str:
        # In the reader's time zone (the admin's: the program's), as the admin shows the attempt's time.
        return f"{timezone.localtime(self.attempted_at):%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
