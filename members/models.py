from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")
        CLOSED = "closed", _("Closed")

    external_id = models.CharField(
        _("external id"), max_length=64, unique=True, help_text=_("The storefront's id for this member.")
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    # Both foreign keys are indexed in Meta: referrer partially (mostly empty), tier by (tier, growth_value).
    referrer = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        db_index=False,
        verbose_name=_("referrer"),
    )

    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, related_name="members", db_index=False, verbose_name=_("tier")
    )
    tier_since = models.DateTimeField(_("tier since"), default=timezone.now)

    # Cached balances: derived from the ledgers, rebuilt by loyalty_audit --rebuild-caches, checked by loyalty_audit.
    growth_value = models.BigIntegerField(_("growth value"), default=0)
    points_available = models.BigIntegerField(_("points available"), default=0)
    points_pending = models.BigIntegerField(_("points pending"), default=0)

    # Behaviour summary kept current by the services; segmentation reads it.
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)
    purchase_count = models.PositiveBigIntegerField(_("purchases"), default=0)
    purchase_amount = models.DecimalField(_("purchase amount"), max_digits=14, decimal_places=2, default=Decimal("0"))

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(fields=["tier", "growth_value"]),
            models.Index(fields=["last_activity_at"]),
            models.Index(fields=["joined_at"]),
            # The admin's search: exact phone, case-insensitive exact email (the name prefix index is
            # PostgreSQL-only, migration 0005). Not partial: "phone = x" does not prove "phone <> ''"
            # to the planner.
            models.Index(fields=["phone"], name="member_phone_idx"),
            models.Index(Upper("email"), name="member_email_upper_idx"),
            # The admin's status filter: frozen and closed members are few; a scan would read them all.
            models.Index(fields=["status"], condition=~Q(status="active"), name="member_not_active_idx"),
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
