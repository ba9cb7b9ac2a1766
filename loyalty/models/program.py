import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# Events older than this are refused whatever the setting: far-past instants are where time zone
# arithmetic overflows, and no earning window reaches back further.
MAX_EVENT_AGE_DAYS = 36_500


class ExpiryPolicy(models.TextChoices):
    ROLLING_MONTHS = "rolling_months", _("Rolling months after earning")
    CALENDAR_YEAR = "calendar_year", _("Earning year plus the next calendar year")
    NEVER = "never", _("Never")


class DowngradePolicy(models.TextChoices):
    NEVER = "never", _("Never downgrade")
    ONE_TIER = "one_tier", _("At most one tier per recalculation")
    TO_QUALIFYING = "to_qualifying", _("Straight to the qualifying tier")


class ReturnDowngrade(models.TextChoices):
    IMMEDIATE = "immediate", _("At once, back to what the growth still qualifies for")
    AT_RECALCULATION = "at_recalculation", _("At the next scheduled recalculation")


class GrowthMode(models.TextChoices):
    TWO_WAY = "two_way", _("Earned and deducted")
    ONE_WAY = "one_way", _("Only earned (deductions ignored)")


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone %(zone)r.") % {"zone": value}) from exc


def new_control_salt() -> str:
    return secrets.token_hex(16)


class ProgramSettings(models.Model):
    """The single row of program-wide settings (pk is always 1)."""

    SINGLETON_PK = 1

    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone])
    point_value = models.DecimalField(
        _("point value"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Cash value of one point, in the program currency."),
    )
    pending_days = models.PositiveSmallIntegerField(
        _("pending days"), default=0, help_text=_("Purchase points stay pending this many days (the return window).")
    )
    points_expiry_policy = models.CharField(
        _("points expiry"), max_length=20, choices=ExpiryPolicy.choices, default=ExpiryPolicy.ROLLING_MONTHS
    )
    points_expiry_months = models.PositiveSmallIntegerField(_("points expiry months"), default=12)
    growth_window_policy = models.CharField(
        _("growth value window"), max_length=20, choices=ExpiryPolicy.choices, default=ExpiryPolicy.ROLLING_MONTHS
    )
    growth_window_months = models.PositiveSmallIntegerField(_("growth value window months"), default=12)
    downgrade_policy = models.CharField(
        _("downgrade policy"), max_length=20, choices=DowngradePolicy.choices, default=DowngradePolicy.ONE_TIER
    )
    growth_mode = models.CharField(
        _("growth mode"), max_length=10, choices=GrowthMode.choices, default=GrowthMode.TWO_WAY
    )
    return_downgrade = models.CharField(
        _("downgrade after a return"),
        max_length=20,
        choices=ReturnDowngrade.choices,
        default=ReturnDowngrade.IMMEDIATE,
        help_text=_(
            "When a return takes growth below the threshold of a tier reached since the last recalculation: "
            "move the member back at once (never below the tier held at that recalculation), or wait for "
            "the next one."
        ),
    )
    max_event_age_days = models.PositiveIntegerField(
        _("oldest event accepted (days)"),
        default=730,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_EVENT_AGE_DAYS)],
        help_text=_(
            "Storefronts may report events that happened up to this many days ago; older ones are refused "
            "(event_too_old) and belong in an import."
        ),
    )
    target_value_per_point = models.DecimalField(
        _("target value per point"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0.01"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Budget: the most a reward may pay per point (cash value / points cost); the admin warns above."),
    )
    hold_minutes = models.PositiveIntegerField(
        _("hold minutes"),
        default=30,
        validators=[MinValueValidator(1)],
        help_text=_("Points held for an order are released if not captured within this many minutes."),
    )
    max_total_multiplier = models.DecimalField(
        _("max total multiplier"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("100"))],
        help_text=_(
            "The most an event's points may be multiplied by: the tier's multiplier plus each running "
            "campaign's extra (multiplier − 1), added, never compounded."
        ),
    )
    global_control_percent = models.PositiveSmallIntegerField(
        _("global control group (%)"),
        default=0,
        validators=[MaxValueValidator(20)],
        help_text=_(
            "Members no marketing campaign touches, to measure all campaigns together against (0 to 20). "
            "Chosen by a hash of the member and the program's control salt: stable while the percentage is."
        ),
    )
    control_salt = models.CharField(max_length=32, default=new_control_salt, editable=False)
    campaign_approval_limit = models.PositiveBigIntegerField(
        _("campaign approval limit (points)"),
        default=100_000,
        help_text=_(
            "A campaign whose cost forecast exceeds this many points (its points, and its coupons at the point "
            "value) waits for a second person's approval before it is published."
        ),
    )
    approval_limit_points = models.PositiveBigIntegerField(
        _("approval limit (points)"),
        default=1000,
        help_text=_(
            "Manual points adjustments larger than this (either sign), or that add up to more for one member "
            "by one person within 24 hours, wait for a second person's approval. Changed under Approval limit "
            "changes."
        ),
    )
    approval_limit_growth = models.PositiveBigIntegerField(
        _("approval limit (growth value)"),
        default=500,
        help_text=_(
            "Manual growth adjustments larger than this (either sign), or that add up to more for one member "
            "by one person within 24 hours, wait for a second person's approval. Changed under Approval limit "
            "changes."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # Set to a new random value by database triggers (migration 0008) whenever these settings, the
    # tiers, the earning rules or the event types change; loyalty.config caches by it.
    config_version = models.BigIntegerField(_("configuration version"), default=0, editable=False)

    class Meta:
        verbose_name = _("program settings")
        verbose_name_plural = _("program settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="program_settings_singleton"),
        ]
        permissions = [
            ("change_approval_limits", _("Can change the approval limits (raises need a second person)")),
        ]

    def __str__(self):
        return str(_("Program settings"))

    @classmethod
    def current(cls) -> "ProgramSettings":
        settings, _ = cls.objects.get_or_create(pk=cls.SINGLETON_PK)
        return settings

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
