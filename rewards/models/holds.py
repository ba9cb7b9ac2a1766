from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class PointsHold(models.Model):
    """Points reserved to pay part of an order. The hold is a spend in the points ledger (with
    allocations), so held points leave `available` and the audit proves the balance; releasing
    refunds the spend to its lots, capturing keeps it."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        CAPTURED = "captured", _("Captured")
        RELEASED = "released", _("Released")

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="points_holds",
        db_index=False,
        verbose_name=_("member"),
    )
    amount = models.PositiveBigIntegerField(_("amount"))
    captured_amount = models.PositiveBigIntegerField(_("captured amount"), default=0)
    order_id = models.CharField(_("order id"), max_length=128)
    spend = models.OneToOneField(
        "loyalty.PointsEntry", on_delete=models.PROTECT, related_name="+", verbose_name=_("spend entry")
    )
    balance_after = models.BigIntegerField(
        _("balance after"), help_text=_("The member's available points right after the hold.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    source = models.CharField(_("source"), max_length=64)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    expires_at = models.DateTimeField(_("expires at"), help_text=_("Released by the job if not captured by then."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    captured_at = models.DateTimeField(_("captured at"), null=True, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    release_reason = models.CharField(_("release reason"), max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("points hold")
        verbose_name_plural = _("points holds")
        indexes = [
            models.Index(fields=["member", "-created_at"], name="hold_member_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="held"), name="hold_open_expiry_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="hold_idempotent"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(condition=Q(captured_amount__lte=models.F("amount")), name="hold_capture_within"),
        ]
        permissions = [("release_hold", _("Can release points holds (gives the points back)"))]

    def __str__(self):
        return gettext("Hold %(id)s: %(amount)d points for order %(order)s") % {
            "id": self.pk,
            "amount": self.amount,
            "order": self.order_id,
        }
