from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.names import display_name
from rewards import calculations


class Redemption(models.Model):
    """Points exchanged for a reward: one spend in the points ledger, once per (source, idempotency_key)."""

    class Status(models.TextChoices):
        COMPLETED = calculations.COMPLETED, _("Completed")
        PENDING = calculations.PENDING, _("Pending fulfilment")
        SHIPPED = calculations.SHIPPED, _("Shipped")
        DELIVERED = calculations.DELIVERED, _("Delivered")
        CANCELLED = calculations.CANCELLED, _("Cancelled")

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="redemptions", db_index=False, verbose_name=_("member")
    )
    reward = models.ForeignKey(
        "rewards.Reward", on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("reward")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    points_spent = models.PositiveBigIntegerField(_("points spent"))
    spend = models.OneToOneField(
        "loyalty.PointsEntry", on_delete=models.PROTECT, related_name="+", verbose_name=_("spend entry")
    )
    balance_after = models.BigIntegerField(
        _("balance after"), help_text=_("The member's available points right after the spend.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    source = models.CharField(_("source"), max_length=64, help_text=_("The storefront (or tool) that asked for it."))
    idempotency_key = models.CharField(_("idempotency key"), max_length=128)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    shipping_address = models.TextField(_("shipping address"), blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True, help_text=_("Why it was cancelled, ..."))
    carrier = models.CharField(_("carrier"), max_length=64, blank=True, help_text=_("Goods: who delivers the parcel."))
    tracking_number = models.CharField(
        _("tracking number"), max_length=64, blank=True, help_text=_("Goods: the carrier's number for the parcel.")
    )
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        indexes = [models.Index(fields=["member", "reward", "created_at"], name="redemption_limit_idx")]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="redemption_idempotent"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="redemption_quantity_positive"),
        ]
        permissions = [
            ("cancel_redemption", _("Can cancel redemptions (refunds the points)")),
            ("fulfil_redemption", _("Can mark goods redemptions shipped and delivered")),
        ]

    def __str__(self):
        """For people: the reward's name and the member's external id and name, never database ids."""
        return gettext("Redemption %(id)s: %(quantity)s × %(reward)s for %(member)s") % {
            "id": self.pk,
            "quantity": self.quantity,
            "reward": display_name(self.reward.name),
            "member": self.member,
        }
