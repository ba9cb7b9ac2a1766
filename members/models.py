from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FROZEN = "frozen", "Frozen"
        CLOSED = "closed", "Closed"

    external_id = models.CharField(max_length=64, unique=True, help_text="The storefront's id for this member.")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    birthday = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    joined_at = models.DateTimeField(default=timezone.now)
    # Both foreign keys are indexed in Meta: referrer partially (mostly empty), tier by (tier, growth_value).
    referrer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals", db_index=False
    )

    tier = models.ForeignKey("loyalty.Tier", on_delete=models.PROTECT, related_name="members", db_index=False)
    tier_since = models.DateTimeField(default=timezone.now)

    # Cached balances: derived from the ledgers, rebuilt by loyalty_audit --rebuild-caches, checked by loyalty_audit.
    growth_value = models.IntegerField(default=0)
    points_available = models.IntegerField(default=0)
    points_pending = models.IntegerField(default=0)

    # Behaviour summary kept current by the services; segmentation reads it.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_purchase_at = models.DateTimeField(null=True, blank=True)
    purchase_count = models.PositiveIntegerField(default=0)
    purchase_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["tier", "growth_value"]),
            models.Index(fields=["last_activity_at"]),
            models.Index(fields=["joined_at"]),
            # The admin's search: exact phone, case-insensitive exact email (a name prefix index is
            # PostgreSQL-only, migration 0005).
            models.Index(fields=["phone"], condition=~Q(phone=""), name="member_phone_idx"),
            models.Index(Upper("email"), condition=~Q(email=""), name="member_email_upper_idx"),
            models.Index(fields=["referrer"], condition=models.Q(referrer__isnull=False), name="member_referrer_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(growth_value__gte=0), name="member_growth_not_negative"),
            models.CheckConstraint(condition=Q(points_available__gte=0), name="member_points_not_negative"),
            models.CheckConstraint(condition=Q(points_pending__gte=0), name="member_pending_not_negative"),
            models.CheckConstraint(condition=~Q(referrer=models.F("id")), name="member_not_own_referrer"),
        ]
        permissions = [
            ("export_member", _("Can export members to a spreadsheet")),
            ("freeze_member", _("Can freeze and unfreeze members")),
        ]

    def __str__(self):
        return f"{self.external_id} {self.name}".strip()

    @property
    def can_transact(self) -> bool:
        return self.status == self.Status.ACTIVE
