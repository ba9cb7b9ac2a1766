"""Coupon templates, issued coupons, and pools of partner codes."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rewards.calculations import ValidityTerms


class CouponTemplate(models.Model):
    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("Amount off")
        PERCENT_OFF = "percent_off", _("Percent off")
        FREE_SHIPPING = "free_shipping", _("Free shipping")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Money off (amount off), percent (percent off, 0-100); 0 for free shipping."),
    )
    min_spend = models.DecimalField(
        _("minimum spend"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    valid_from = models.DateTimeField(
        _("valid from"), null=True, blank=True, help_text=_("Fixed window: first moment of use.")
    )
    valid_until = models.DateTimeField(
        _("valid until"), null=True, blank=True, help_text=_("Fixed window: end (exclusive).")
    )
    valid_days = models.PositiveSmallIntegerField(
        _("valid days"), null=True, blank=True, help_text=_("Or: valid this many program days from issue.")
    )
    inactive_days = models.PositiveSmallIntegerField(
        _("inactive days"), default=0, help_text=_("Usable only from the local midnight this many days after issue.")
    )
    code_pool = models.ForeignKey(
        "rewards.CodePool",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("code pool"),
        help_text=_("Take coupon codes from this pool of partner codes instead of generating them."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_days__isnull=False, valid_days__gt=0) | Q(valid_until__isnull=False),
                name="coupon_template_has_validity",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="coupon_template_window_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent_off") | Q(value__gt=0, value__lte=100), name="coupon_template_percent"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @property
    def validity(self) -> ValidityTerms:
        return ValidityTerms(self.valid_from, self.valid_until, self.valid_days, self.inactive_days)

    def clean(self):
        if not self.valid_days and self.valid_until is None:
            raise ValidationError(_("Give fixed dates (valid until) or a number of valid days."))
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValidationError({"valid_until": _("Must be after valid from.")})
        if self.kind == self.Kind.PERCENT_OFF and not (0 < self.value <= 100):
            raise ValidationError({"value": _("A percentage between 0 and 100.")})


class CodePool(models.Model):
    """Codes bought from a partner (cinema tickets, streaming months, other shops' coupons), imported
    from CSV in the admin and handed out one per unit by rewards or coupon templates."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("code pool")
        verbose_name_plural = _("code pools")

    def __str__(self):
        return f"{self.name} ({self.code})"


class PoolCode(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        ISSUED = "issued", _("Issued")
        VOID = "void", _("Void")

    pool = models.ForeignKey(CodePool, on_delete=models.PROTECT, related_name="codes", verbose_name=_("code pool"))
    code = models.CharField(_("code"), max_length=128)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    member = models.ForeignKey(
        "members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    redemption = models.ForeignKey(
        "rewards.Redemption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="codes",
        verbose_name=_("redemption"),
    )
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    imported_at = models.DateTimeField(_("imported at"), default=timezone.now)

    class Meta:
        ordering = ["pool", "id"]
        verbose_name = _("pool code")
        verbose_name_plural = _("pool codes")
        indexes = [models.Index(fields=["pool", "status", "id"], name="pool_code_available_idx")]
        constraints = [
            models.UniqueConstraint(fields=["pool", "code"], name="pool_code_unique"),
            models.CheckConstraint(
                condition=Q(status="available", member__isnull=True) | ~Q(status="available"),
                name="pool_code_available_unassigned",
            ),
        ]

    def __str__(self):
        return f"{self.pool_id}:{self.code}"


class Coupon(models.Model):
    """An issued coupon. Kind, value and minimum spend are copied from the template at issue, so a
    later template edit never changes what a member already holds."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        USED = "used", _("Used")
        EXPIRED = "expired", _("Expired")
        VOID = "void", _("Void")

    code = models.CharField(_("code"), max_length=128, unique=True)
    template = models.ForeignKey(
        CouponTemplate, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("coupon template")
    )
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="coupons", db_index=False, verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CouponTemplate.Kind.choices)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2)
    min_spend = models.DecimalField(_("minimum spend"), max_digits=12, decimal_places=2, default=Decimal("0"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    grant = models.ForeignKey(
        "rewards.BenefitGrant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupons",
        db_index=False,
        verbose_name=_("benefit grant"),
    )
    redemption = models.ForeignKey(
        "rewards.Redemption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupons",
        db_index=False,
        verbose_name=_("redemption"),
    )
    used_order_id = models.CharField(_("used on order"), max_length=128, blank=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    used_by = models.CharField(_("used by"), max_length=64, blank=True, help_text=_("The storefront that used it."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        indexes = [
            models.Index(fields=["member", "status", "-issued_at"], name="coupon_member_status_idx"),
            models.Index(fields=["grant"], condition=Q(grant__isnull=False), name="coupon_grant_idx"),
            models.Index(fields=["redemption"], condition=Q(redemption__isnull=False), name="coupon_redemption_idx"),
            models.Index(fields=["valid_until"], condition=Q(status="active"), name="coupon_active_until_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="used") & ~Q(used_order_id="")) | (~Q(status="used") & Q(used_order_id="")),
                name="coupon_used_has_order",
            ),
            models.CheckConstraint(condition=Q(valid_until__gt=models.F("valid_from")), name="coupon_window_ordered"),
        ]
        permissions = [("void_coupon", _("Can void coupons"))]

    def __str__(self):
        return self.code
