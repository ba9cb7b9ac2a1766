from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.names import display_name


class Benefit(models.Model):
    """What a tier gives (会员权益): a description members see and, optionally, a recurring entitlement."""

    class Entitlement(models.TextChoices):
        NONE = "none", _("Described only (member price, fast refund, service ...)")
        MONTHLY_COUPONS = "monthly_coupons", _("Coupons every month")
        BIRTHDAY_GIFT = "birthday_gift", _("Birthday gift once a year")
        REFERRAL_REBATE = "referral_rebate", _("Referral rebate percentage")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    tiers = models.ManyToManyField("loyalty.Tier", related_name="benefits", blank=True, verbose_name=_("tiers"))
    entitlement = models.CharField(
        _("entitlement"), max_length=16, choices=Entitlement.choices, default=Entitlement.NONE
    )
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="benefits",
        verbose_name=_("coupon template"),
    )
    coupon_quantity = models.PositiveSmallIntegerField(
        _("coupon quantity"), default=0, help_text=_("Coupons per grant.")
    )
    points = models.PositiveIntegerField(_("points"), default=0, help_text=_("Birthday gift: points."))
    growth = models.PositiveIntegerField(_("growth value"), default=0, help_text=_("Birthday gift: growth value."))
    rebate_percent = models.DecimalField(
        _("rebate percent"),
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=_("Referral rebate, percent of the referred member's spend."),
    )
    sort_order = models.IntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("benefit")
        verbose_name_plural = _("benefits")
        constraints = [
            models.CheckConstraint(
                condition=Q(coupon_quantity=0) | Q(coupon_template__isnull=False), name="benefit_coupons_need_template"
            ),
            models.CheckConstraint(
                condition=~Q(entitlement="referral_rebate") | Q(rebate_percent__isnull=False),
                name="benefit_rebate_has_percent",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def clean(self):
        if self.coupon_quantity and self.coupon_template_id is None:
            raise ValidationError({"coupon_template": _("Coupons need a coupon template.")})
        if self.entitlement == self.Entitlement.MONTHLY_COUPONS and not self.coupon_quantity:
            raise ValidationError({"coupon_quantity": _("How many coupons a month?")})
        if self.entitlement == self.Entitlement.BIRTHDAY_GIFT and not (
            self.coupon_quantity or self.points or self.growth
        ):
            raise ValidationError(_("A birthday gift gives points, growth or coupons."))
        if self.entitlement == self.Entitlement.REFERRAL_REBATE and self.rebate_percent is None:
            raise ValidationError({"rebate_percent": _("Required for a referral rebate.")})


class BenefitGrant(models.Model):
    """One entitlement issued to one member for one period (2026-11 monthly, 2026 for birthdays),
    with what it gave. The unique constraint makes the issuing jobs idempotent."""

    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="benefit_grants",
        db_index=False,
        verbose_name=_("member"),
    )
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="grants", verbose_name=_("benefit"))
    period = models.CharField(_("period"), max_length=16)
    tier = models.ForeignKey(
        "loyalty.Tier",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("tier"),
        help_text=_("Tier at grant."),
    )
    coupon_count = models.PositiveSmallIntegerField(_("coupons issued"), default=0)
    points = models.PositiveIntegerField(_("points"), default=0)
    growth = models.PositiveIntegerField(_("growth value"), default=0)
    job_run = models.ForeignKey(
        "loyalty.JobRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("job run"),
    )
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)

    class Meta:
        ordering = ["-granted_at", "-id"]
        verbose_name = _("benefit grant")
        verbose_name_plural = _("benefit grants")
        constraints = [
            models.UniqueConstraint(fields=["member", "benefit", "period"], name="benefit_grant_once_per_period"),
        ]

    def __str__(self):
        return gettext("%(benefit)s for member %(member)s (%(period)s)") % {
            "benefit": display_name(self.benefit.name),
            "member": self.member,
            "period": self.period,
        }
