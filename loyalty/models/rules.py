from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class EarningRule(models.Model):
    """What one event of a type earns (negative values deduct), with its caps and active window."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128, blank=True)
    event_type = models.ForeignKey(
        "loyalty.EventType", on_delete=models.PROTECT, related_name="rules", verbose_name=_("event type")
    )
    growth = models.IntegerField(_("growth"), default=0, help_text=_("Fixed growth per event."))
    points = models.IntegerField(_("points"), default=0, help_text=_("Fixed points per event."))
    growth_per_unit = models.DecimalField(
        _("growth per unit"),
        max_digits=12,
        decimal_places=4,
        default=Decimal("0"),
        help_text=_("Growth per currency unit of amount."),
    )
    points_per_unit = models.DecimalField(
        _("points per unit"),
        max_digits=12,
        decimal_places=4,
        default=Decimal("0"),
        help_text=_("Points per currency unit of amount."),
    )
    apply_tier_multiplier = models.BooleanField(
        _("tier multiplier"), default=False, help_text=_("Multiply the points by the member's tier multiplier.")
    )
    daily_limit = models.PositiveIntegerField(
        _("daily limit"), null=True, blank=True, help_text=_("Times per member per program day; empty = no limit.")
    )
    lifetime_limit = models.PositiveIntegerField(
        _("lifetime limit"), null=True, blank=True, help_text=_("Times per member ever; empty = no limit.")
    )
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["event_type_id", "code"]
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="rule_window_ordered",
            ),
        ]

    def __str__(self):
        return self.code
