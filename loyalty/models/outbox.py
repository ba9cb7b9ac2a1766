"""The relay's own state (loyalty.outbox): the last delivery position it gave, and each subscriber's
progress through the outbox (members.DomainEvent)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxNumbering(models.Model):
    """One row: the last `position` given to a domain event. Kept here, not taken from the outbox,
    which pruning empties."""

    SINGLETON_PK = 1

    last_position = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("outbox numbering")
        verbose_name_plural = _("outbox numbering")

    def __str__(self):
        return str(self.last_position)


class OutboxSubscriber(models.Model):
    """A registered subscriber's progress: it has been handed every domain event up to `position`.
    A failure leaves the position where it was; the same events are handed over again at
    `retry_at`, later after each failure in a row."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.BigIntegerField(_("position"), default=0)
    delivered = models.BigIntegerField(_("events delivered"), default=0)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    retry_at = models.DateTimeField(_("retry at"), null=True, blank=True)
    last_delivery_at = models.DateTimeField(_("last delivery"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("outbox subscriber")
        verbose_name_plural = _("outbox subscribers")
        permissions = [("retry_outboxsubscriber", _("Can retry a failing outbox subscriber now"))]

    def __str__(self):
        return self.name
