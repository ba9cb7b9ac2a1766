from django.db import models
from django.db.models import Q
from django.utils import timezone


class PointsHold(models.Model):
    """Points reserved to pay part of an order. The hold is a spend in the points ledger (with
    allocations), so held points leave `available` and the audit proves the balance; releasing
    refunds the spend to its lots, capturing keeps it."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released"

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="points_holds", db_index=False)
    amount = models.PositiveIntegerField()
    captured_amount = models.PositiveIntegerField(default=0)
    order_id = models.CharField(max_length=128)
    spend = models.OneToOneField("loyalty.PointsEntry", on_delete=models.PROTECT, related_name="+")
    balance_after = models.IntegerField(help_text="The member's available points right after the hold.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HELD)
    source = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=128)
    fingerprint = models.CharField(max_length=64)
    expires_at = models.DateTimeField(help_text="Released by the job if not captured by then.")
    created_at = models.DateTimeField(default=timezone.now)
    captured_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="hold_member_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="held"), name="hold_open_expiry_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="hold_idempotent"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(condition=Q(captured_amount__lte=models.F("amount")), name="hold_capture_within"),
        ]

    def __str__(self):
        return f"hold {self.pk}: {self.amount} points for order {self.order_id}"
