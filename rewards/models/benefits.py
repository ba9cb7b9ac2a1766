from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Benefit(models.Model):
    """What a tier gives (会员权益): a description members see and, optionally, a recurring entitlement."""

    class Entitlement(models.TextChoices):
        NONE = "none", "Described only (member price, fast refund, service ...)"
        MONTHLY_COUPONS = "monthly_coupons", "Coupons every month"
        BIRTHDAY_GIFT = "birthday_gift", "Birthday gift once a year"
        REFERRAL_REBATE = "referral_rebate", "Referral rebate percentage"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    tiers = models.ManyToManyField("loyalty.Tier", related_name="benefits", blank=True)
    entitlement = models.CharField(max_length=16, choices=Entitlement.choices, default=Entitlement.NONE)
    coupon_template = models.ForeignKey(
        "rewards.CouponTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="benefits"
    )
    coupon_quantity = models.PositiveSmallIntegerField(default=0, help_text="Coupons per grant.")
    points = models.PositiveIntegerField(default=0, help_text="Birthday gift: points.")
    growth = models.PositiveIntegerField(default=0, help_text="Birthday gift: growth value.")
    rebate_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Referral rebate, percent of the referred member's spend.",
    )
    sort_order = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "code"]
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
            raise ValidationError({"coupon_template": "Coupons need a coupon template."})
        if self.entitlement == self.Entitlement.MONTHLY_COUPONS and not self.coupon_quantity:
            raise ValidationError({"coupon_quantity": "How many coupons a month?"})
        if self.entitlement == self.Entitlement.BIRTHDAY_GIFT and not (
            self.coupon_quantity or self.points or self.growth
        ):
            raise ValidationError("A birthday gift gives points, growth or coupons.")
        if self.entitlement == self.Entitlement.REFERRAL_REBATE and self.rebate_percent is None:
            raise ValidationError({"rebate_percent": "Required for a referral rebate."})


class BenefitGrant(models.Model):
    """One entitlement issued to one member for one period (2026-11 monthly, 2026 for birthdays),
    with what it gave. The unique constraint makes the issuing jobs idempotent."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="benefit_grants", db_index=False
    )
    benefit = models.ForeignKey(Benefit, on_delete=models.PROTECT, related_name="grants")
    period = models.CharField(max_length=16)
    tier = models.ForeignKey("loyalty.Tier", on_delete=models.PROTECT, related_name="+", help_text="Tier at grant.")
    coupon_count = models.PositiveSmallIntegerField(default=0)
    points = models.PositiveIntegerField(default=0)
    growth = models.PositiveIntegerField(default=0)
    job_run = models.ForeignKey(
        "loyalty.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-granted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "benefit", "period"], name="benefit_grant_once_per_period"),
        ]

    def __str__(self):
        return f"{self.benefit_id} for member {self.member_id} ({self.period})"
