"""The two append-only ledgers. An entry's amount is never changed; only a lot's `remaining` moves.

A positive entry is a *lot*: it carries `remaining` (what is still held) and `expires_at`. Debits
(spend, deduct, reverse, expire, negative adjust) consume lots soonest-expiring first and record
which lots they took from in an allocation row, so every lot's history can be proved.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

ADJUST = "adjust"


def _ledger_constraints(prefix: str, credit_kinds: tuple, debit_kinds: tuple) -> list:
    return [
        models.CheckConstraint(
            condition=(
                Q(kind__in=credit_kinds, amount__gt=0)
                | Q(kind__in=debit_kinds, amount__lt=0)
                | (Q(kind=ADJUST) & ~Q(amount=0))
            ),
            name=f"{prefix}_sign_matches_kind",
        ),
        models.CheckConstraint(
            condition=(
                # remaining IS NOT NULL spelled out: a CHECK that evaluates to NULL passes.
                Q(amount__gt=0, remaining__isnull=False, remaining__gte=0, remaining__lte=F("amount"))
                | Q(amount__lt=0, remaining__isnull=True, expires_at__isnull=True)
            ),
            name=f"{prefix}_lot_remaining_in_range",
        ),
        models.UniqueConstraint(
            fields=["expired_lot"], condition=Q(kind="expire"), name=f"{prefix}_expire_once_per_lot"
        ),
    ]


def _ledger_indexes(prefix: str) -> list:
    # Foreign keys are indexed here rather than by Django: partially where mostly NULL, and not at all
    # where a composite index leads with them. Every index costs each insert and each lot update.
    return [
        models.Index(fields=["member", "-created_at"], name=f"{prefix}_member_time_idx"),
        models.Index(fields=["event"], condition=Q(event__isnull=False), name=f"{prefix}_event_idx"),
        models.Index(fields=["rule"], condition=Q(rule__isnull=False), name=f"{prefix}_rule_idx"),
        models.Index(fields=["actor"], condition=Q(actor__isnull=False), name=f"{prefix}_actor_idx"),
        models.Index(fields=["member", "expires_at"], condition=Q(remaining__gt=0), name=f"{prefix}_open_lots_idx"),
    ]


class LedgerEntry(models.Model):
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="+", db_index=False, verbose_name=_("member")
    )
    amount = models.BigIntegerField(_("amount"), help_text=_("Signed: positive credits, negative debits."))
    remaining = models.BigIntegerField(
        _("remaining"), null=True, blank=True, help_text=_("Lots only: what is still held.")
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True, help_text=_("Lots only; empty = never."))
    expired_lot = models.ForeignKey(  # indexed by the unique "expire once per lot" constraint
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("expired lot"),
        help_text=_("Expire entries: the lot that expired."),
    )
    event = models.ForeignKey(
        "loyalty.Event",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("event"),
    )
    rule = models.ForeignKey(
        "loyalty.EarningRule",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("earning rule"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("actor"),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    # A reason the system wrote, as a code and parameters (loyalty.reasons renders them in the
    # reader's language); empty when a person wrote the reason.
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True, default="", db_default="")
    reason_params = models.JSONField(_("reason parameters"), null=True, blank=True, default=None)
    created_at = models.DateTimeField(
        _("effective at"), default=timezone.now, help_text=_("When the entry takes effect.")
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, editable=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def reason_display(self) -> str:
        from loyalty.reasons import render  # renders with the models (AdjustmentReason)

        return render(self.reason_code, self.reason_params, self.reason)

    @property
    def is_lot(self) -> bool:
        return self.amount > 0


class GrowthEntry(LedgerEntry):
    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        DEDUCT = "deduct", _("Deducted")
        REVERSE = "reverse", _("Reversed (return)")
        EXPIRE = "expire", _("Expired")
        ADJUST = ADJUST, _("Manual adjustment")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)

    class Meta(LedgerEntry.Meta):
        verbose_name = _("growth entry")
        verbose_name_plural = _("growth entries")
        permissions = [("export_growthentry", _("Can export the growth ledger to a spreadsheet"))]
        constraints = _ledger_constraints("growth", ("earn",), ("deduct", "reverse", "expire"))
        indexes = _ledger_indexes("growth")

    def __str__(self):
        return gettext("Growth value %(amount)+d (%(kind)s) for member %(member)s") % {
            "kind": self.get_kind_display(),
            "amount": self.amount,
            "member": self.member,  # external id and name, as people know the member
        }


class PointsEntry(LedgerEntry):
    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REFUND = "refund", _("Refund of a spend")
        SPEND = "spend", _("Spent")
        DEDUCT = "deduct", _("Deducted")
        REVERSE = "reverse", _("Reversed (return)")
        EXPIRE = "expire", _("Expired")
        ADJUST = ADJUST, _("Manual adjustment")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    available_at = models.DateTimeField(
        _("available at"), null=True, blank=True, help_text=_("Lots only: spendable from then on.")
    )
    released_at = models.DateTimeField(
        _("released at"),
        null=True,
        blank=True,
        help_text=_("Lots only: when the lot stopped being pending (empty = still pending)."),
    )
    refunded_spend = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        db_index=False,
        verbose_name=_("refunded spend"),
        help_text=_("Refund entries: the spend they give back."),
    )
    source = models.CharField(_("source"), max_length=64, blank=True, help_text=_("Spends: who asked for it."))
    reference = models.CharField(
        _("reference"), max_length=128, blank=True, help_text=_("Spends: the caller's idempotency key.")
    )

    class Meta(LedgerEntry.Meta):
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        permissions = [("export_pointsentry", _("Can export the points ledger to a spreadsheet"))]
        constraints = _ledger_constraints("points", ("earn", "refund"), ("spend", "deduct", "reverse", "expire")) + [
            models.CheckConstraint(
                condition=Q(amount__lt=0) | Q(available_at__isnull=False), name="points_lot_has_available_at"
            ),
            models.UniqueConstraint(
                fields=["source", "reference"],
                condition=Q(kind="spend") & ~Q(reference=""),
                name="points_spend_reference_unique",
            ),
        ]
        indexes = _ledger_indexes("points") + [
            models.Index(
                fields=["refunded_spend"], condition=Q(refunded_spend__isnull=False), name="points_refunded_spend_idx"
            ),
            models.Index(
                fields=["member", "available_at"],
                condition=Q(released_at__isnull=True, amount__gt=0),
                name="points_pending_idx",
            ),
        ]

    def __str__(self):
        return gettext("Points %(amount)+d (%(kind)s) for member %(member)s") % {
            "kind": self.get_kind_display(),
            "amount": self.amount,
            "member": self.member,  # external id and name, as people know the member
        }


class Allocation(models.Model):
    """The debit side is indexed by the unique (debit, lot) constraint."""

    amount = models.PositiveBigIntegerField(_("amount"))

    class Meta:
        abstract = True


class GrowthAllocation(Allocation):
    """How much a debit took from one growth lot."""

    debit = models.ForeignKey(
        GrowthEntry, on_delete=models.PROTECT, related_name="allocations", db_index=False, verbose_name=_("debit")
    )
    lot = models.ForeignKey(GrowthEntry, on_delete=models.PROTECT, related_name="consumed_by", verbose_name=_("lot"))

    class Meta:
        verbose_name = _("growth allocation")
        verbose_name_plural = _("growth allocations")
        constraints = [
            models.UniqueConstraint(fields=["debit", "lot"], name="growth_allocation_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="growth_allocation_positive"),
        ]

    def __str__(self):
        return f"{self.amount} from lot {self.lot_id} to entry {self.debit_id}"


class PointsAllocation(Allocation):
    """How much a debit took from one points lot."""

    debit = models.ForeignKey(
        PointsEntry, on_delete=models.PROTECT, related_name="allocations", db_index=False, verbose_name=_("debit")
    )
    lot = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="consumed_by", verbose_name=_("lot"))

    class Meta:
        verbose_name = _("points allocation")
        verbose_name_plural = _("points allocations")
        constraints = [
            models.UniqueConstraint(fields=["debit", "lot"], name="points_allocation_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="points_allocation_positive"),
        ]

    def __str__(self):
        return f"{self.amount} from lot {self.lot_id} to entry {self.debit_id}"
