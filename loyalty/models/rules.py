from decimal import Decimal

from django.db import models
from django.db.models import Q


class EarningRule(models.Model):
    """What one event of a type earns (negative values deduct), with its caps and active window."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128, blank=True)
    event_type = models.ForeignKey("loyalty.EventType", on_delete=models.PROTECT, related_name="rules")
    growth = models.IntegerField(default=0, help_text="Fixed growth per event.")
    points = models.IntegerField(default=0, help_text="Fixed points per event.")
    growth_per_unit = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal("0"), help_text="Growth per currency unit of amount."
    )
    points_per_unit = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal("0"), help_text="Points per currency unit of amount."
    )
    apply_tier_multiplier = models.BooleanField(
        default=False, help_text="Multiply the points by the member's tier multiplier."
    )
    daily_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Times per member per program day; empty = no limit."
    )
    lifetime_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Times per member ever; empty = no limit."
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["event_type_id", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="rule_window_ordered",
            ),
        ]

    def __str__(self):
        return self.code
