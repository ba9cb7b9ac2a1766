"""The points mall catalog."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rewards import calculations


class Reward(models.Model):
    class Kind(models.TextChoices):
        COUPON = "coupon", _("Coupon of a template")
        CODE = "code", _("Code from a pool")
        GOODS = "goods", _("Physical goods (fulfilment)")
        POINTS_TO_CASH = "points_to_cash", _("Cash voucher")

    class LimitPeriod(models.TextChoices):
        DAY = calculations.DAY, _("Per day")
        MONTH = calculations.MONTH, _("Per month")
        YEAR = calculations.YEAR, _("Per year")
        EVER = calculations.EVER, _("Ever")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    image_url = models.URLField(_("image URL"), max_length=500, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    points_cost = models.PositiveIntegerField(_("points cost"), validators=[MinValueValidator(1)])
    cash_value = models.DecimalField(
        _("cash value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("What one unit costs the program (for vouchers: the voucher's face value)."),
    )
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Units on offer in total; empty = unlimited.")
    )
    redeemed_quantity = models.PositiveBigIntegerField(
        _("redeemed"), default=0, editable=False, help_text=_("Units redeemed and not cancelled.")
    )
    per_member_limit = models.PositiveIntegerField(
        _("per-member limit"), null=True, blank=True, help_text=_("Units per member per period.")
    )
    limit_period = models.CharField(
        _("limit period"), max_length=8, choices=LimitPeriod.choices, default=LimitPeriod.EVER
    )
    min_tier = models.ForeignKey(
        "loyalty.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("minimum tier"),
    )
    visible_from = models.DateTimeField(_("visible from"), null=True, blank=True)
    visible_until = models.DateTimeField(_("visible until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    category = models.SlugField(_("category"), max_length=64, blank=True)
    sort_order = models.IntegerField(_("sort order"), default=0)
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        verbose_name=_("coupon template"),
    )
    code_pool = models.ForeignKey(
        "rewards.CodePool",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        verbose_name=_("code pool"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["sort_order", "points_cost", "code"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        indexes = [models.Index(fields=["is_active", "category", "sort_order"], name="reward_catalog_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gt=0), name="reward_costs_points"),
            models.CheckConstraint(
                condition=~Q(kind__in=["coupon", "points_to_cash"]) | Q(coupon_template__isnull=False),
                name="reward_coupon_needs_template",
            ),
            models.CheckConstraint(
                condition=~Q(kind="code") | Q(code_pool__isnull=False), name="reward_code_needs_pool"
            ),
            models.CheckConstraint(
                condition=Q(visible_from__isnull=True)
                | Q(visible_until__isnull=True)
                | Q(visible_until__gt=models.F("visible_from")),
                name="reward_window_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def stock_left(self) -> int | None:
        return None if self.stock is None else max(self.stock - self.redeemed_quantity, 0)

    @property
    def value_per_point(self) -> Decimal:
        return calculations.value_per_point(self.cash_value, self.points_cost)

    def clean(self):
        if self.kind in (self.Kind.COUPON, self.Kind.POINTS_TO_CASH) and self.coupon_template_id is None:
            raise ValidationError({"coupon_template": _("Coupon and cash-voucher rewards issue a coupon template.")})
        if self.kind == self.Kind.CODE and self.code_pool_id is None:
            raise ValidationError({"code_pool": _("Code rewards hand out codes from a pool.")})
        if self.visible_from and self.visible_until and self.visible_until <= self.visible_from:
            raise ValidationError({"visible_until": _("Must be after visible from.")})
