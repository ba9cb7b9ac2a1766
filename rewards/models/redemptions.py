from django.db import models
from django.db.models import Q
from django.utils import timezone

from rewards import calculations


class Redemption(models.Model):
    """Points exchanged for a reward: one spend in the points ledger, once per (source, idempotency_key)."""

    class Status(models.TextChoices):
        COMPLETED = calculations.COMPLETED, "Completed"
        PENDING = calculations.PENDING, "Pending fulfilment"
        SHIPPED = calculations.SHIPPED, "Shipped"
        DELIVERED = calculations.DELIVERED, "Delivered"
        CANCELLED = calculations.CANCELLED, "Cancelled"

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="redemptions", db_index=False)
    reward = models.ForeignKey("rewards.Reward", on_delete=models.PROTECT, related_name="redemptions")
    quantity = models.PositiveSmallIntegerField()
    points_spent = models.PositiveIntegerField()
    spend = models.OneToOneField("loyalty.PointsEntry", on_delete=models.PROTECT, related_name="+")
    balance_after = models.IntegerField(help_text="The member's available points right after the spend.")
    status = models.CharField(max_length=10, choices=Status.choices)
    source = models.CharField(max_length=64, help_text="The storefront (or tool) that asked for it.")
    idempotency_key = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    shipping_address = models.TextField(blank=True)
    note = models.CharField(max_length=255, blank=True, help_text="Why it was cancelled, tracking number, ...")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "reward", "created_at"], name="redemption_limit_idx")]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="redemption_idempotent"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="redemption_quantity_positive"),
        ]

    def __str__(self):
        return f"redemption {self.pk} of {self.reward_id} by member {self.member_id}"
