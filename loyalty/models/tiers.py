from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Tier(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Position on the ladder, 0 = lowest."))
    threshold = models.PositiveIntegerField(
        _("threshold"), unique=True, help_text=_("Growth value needed to hold this tier.")
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Applied to points from rules that use the tier multiplier (purchases)."),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        constraints = [
            models.CheckConstraint(condition=Q(points_multiplier__gte=0), name="tier_multiplier_not_negative"),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def clean(self):
        from loyalty.calculations import LadderError, TierStep, validate_ladder

        others = Tier.objects.exclude(pk=self.pk)
        steps = [TierStep(t.code, t.rank, t.threshold) for t in others]
        steps.append(TierStep(self.code, self.rank, self.threshold))
        try:
            validate_ladder(steps)
        except LadderError as exc:
            raise ValidationError(str(exc)) from exc


class TierChange(models.Model):
    class Reason(models.TextChoices):
        ENROLMENT = "enrolment", _("Enrolment")
        UPGRADE = "upgrade", _("Upgrade on earning")
        RECALCULATION = "recalculation", _("Scheduled recalculation")
        MANUAL = "manual", _("Manual change")
        RETURN = "return", _("Back down after a return")

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="tier_changes", verbose_name=_("member")
    )
    from_tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("from tier")
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", verbose_name=_("to tier"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    event = models.ForeignKey(
        "loyalty.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("event")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    period = models.CharField(
        _("period"), max_length=16, blank=True, help_text=_("Recalculation period, e.g. 2026-11.")
    )
    growth_value = models.BigIntegerField(
        _("growth value"), help_text=_("The member's growth value when the change was made.")
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["member", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "period"], condition=~Q(period=""), name="tier_change_once_per_period"
            ),
        ]
        permissions = [("export_tierchange", _("Can export tier changes to a spreadsheet"))]

    def __str__(self):
        return f"{self.member_id}: {self.from_tier_id} -> {self.to_tier_id} ({self.get_reason_display()})"
