"""Manual adjustments by staff. Every one is recorded here with who asked, why and who decided; an
adjustment above the program's approval limit waits for a second person (maker-checker) and touches
the ledger only when approved."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty.reason_codes import ADJUSTMENT, Reason


class AdjustmentReason(models.TextChoices):
    GOODWILL = "goodwill", _("Goodwill gesture")
    COMPLAINT = "complaint", _("Complaint compensation")
    CORRECTION = "correction", _("Correction of a wrong entry")
    MISSING_ORDER = "missing_order", _("Order missing from the storefront")
    MIGRATION = "migration", _("Balance migrated from another system")
    FRAUD = "fraud", _("Fraud or abuse")
    OTHER = "other", _("Other (explain in the note)")


class Adjustment(models.Model):
    class Kind(models.TextChoices):
        POINTS = "points", _("Points")
        GROWTH = "growth", _("Growth value")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="adjustments", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField(_("amount"), help_text=_("Signed: positive adds, negative takes away."))
    reason = models.CharField(_("reason"), max_length=20, choices=AdjustmentReason.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    points_expire_at = models.DateTimeField(
        _("points expire at"), null=True, blank=True, help_text=_("Added points only; empty = the program's rule.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    batch = models.UUIDField(_("batch"), help_text=_("Adjustments asked for together (one bulk action)."))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)
    # The requester is told of someone else's decision on their next page in the admin, once.
    requester_notified = models.BooleanField(_("requester notified"), default=False, editable=False)
    points_entry = models.OneToOneField(
        "loyalty.PointsEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustment",
        verbose_name=_("points entry"),
    )
    growth_entry = models.OneToOneField(
        "loyalty.GrowthEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adjustment",
        verbose_name=_("growth entry"),
    )

    class Meta:
        verbose_name = _("adjustment")
        verbose_name_plural = _("adjustments")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["status"], condition=Q(status="pending"), name="adjustment_pending_idx"),
            models.Index(fields=["member", "-requested_at"], name="adjustment_member_idx"),
            models.Index(fields=["batch"], name="adjustment_batch_idx"),
            models.Index(
                fields=["requested_by"],
                condition=Q(requester_notified=False) & ~Q(status="pending"),
                name="adjustment_to_notify_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="adjustment_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(points_expire_at__isnull=True) | Q(kind="points", amount__gt=0),
                name="adjustment_expiry_only_for_added_points",
            ),
        ]
        permissions = [
            ("adjust_points", _("Can adjust a member's points")),
            ("adjust_growth", _("Can adjust a member's growth value")),
            ("approve_adjustment", _("Can approve or reject adjustments above the approval limit")),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount:+d} → {self.member.external_id}"

    def reason_display(self) -> str:
        label = self.get_reason_display()
        return f"{label}: {self.note}" if self.note else label

    @property
    def ledger_reason(self) -> Reason:
        """Written to the ledger as a code (rendered in each reader's language) and as text in the
        site's language, which the storefronts read."""
        return Reason(ADJUSTMENT, {"reason": self.reason, "note": self.note})


class ApprovalLimitChange(models.Model):
    """A change of an approval limit (ProgramSettings.approval_limit_points / _growth). The limits
    decide what one person may do alone, so they are changed only with their own permission, and a
    raise waits for a second person like a large adjustment; a lowering applies at once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")

    kind = models.CharField(_("kind"), max_length=10, choices=Adjustment.Kind.choices)
    previous_limit = models.PositiveBigIntegerField(_("limit before"))
    new_limit = models.PositiveBigIntegerField(_("new limit"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("approval limit change")
        verbose_name_plural = _("approval limit changes")
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.previous_limit:,} → {self.new_limit:,}"
