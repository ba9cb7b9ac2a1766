"""Small summaries of slowly changing history, written by the nightly `store_report_summaries` job so
the program design report does not re-read years of ledger rows on every view. Each row belongs to
one chunk of one run (a member-id range): a run's rows add up to the whole population, and a run that
is resumed or retried never counts a chunk twice. The report reads the latest finished run and adds
what was recorded since that run's as_of from the ledgers themselves."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SummaryRow(models.Model):
    chunk = models.ForeignKey("loyalty.JobChunk", on_delete=models.CASCADE, related_name="+", verbose_name=_("chunk"))

    class Meta:
        abstract = True


class ClimbSummary(SummaryRow):
    """How many of the chunk's members first reached `tier` (or a tier above it) `days` program days
    after the day they joined, from the tier changes made before the run's as_of."""

    tier = models.ForeignKey("loyalty.Tier", on_delete=models.CASCADE, related_name="+", verbose_name=_("tier"))
    days = models.IntegerField(_("days"))
    members = models.PositiveIntegerField(_("members"))

    class Meta:
        verbose_name = _("climb summary")
        verbose_name_plural = _("climb summaries")
        constraints = [models.UniqueConstraint(fields=["chunk", "tier", "days"], name="climb_summary_unique")]

    def __str__(self):
        return f"{self.members} to tier {self.tier_id} in {self.days} days (chunk {self.chunk_id})"


class PointsFlowSummary(SummaryRow):
    """The chunk's points entries recorded before the run's as_of, summed per program month (of their
    effective time) and kind."""

    month = models.DateField(_("month"))
    kind = models.CharField(_("kind"), max_length=10)
    total = models.BigIntegerField(_("total"))

    class Meta:
        verbose_name = _("points flow summary")
        verbose_name_plural = _("points flow summaries")
        constraints = [models.UniqueConstraint(fields=["chunk", "month", "kind"], name="points_flow_summary_unique")]

    def __str__(self):
        return f"{self.kind} {self.total:+d} in {self.month:%Y-%m} (chunk {self.chunk_id})"


class SpendSummary(SummaryRow):
    """The chunk's net purchases (purchases less returns) recorded before the run's as_of, per program
    month of the purchase and the tier the event left the member on."""

    month = models.DateField(_("month"))
    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.CASCADE, null=True, related_name="+", verbose_name=_("tier")
    )
    spend = models.DecimalField(_("spend"), max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = _("spend summary")
        verbose_name_plural = _("spend summaries")
        constraints = [models.UniqueConstraint(fields=["chunk", "month", "tier"], name="spend_summary_unique")]

    def __str__(self):
        return f"spend {self.spend} in {self.month:%Y-%m} on tier {self.tier_id} (chunk {self.chunk_id})"


class TierSizeSummary(SummaryRow):
    """How many of the chunk's members (closed ones aside) were on `tier` when the chunk was stored,
    zero included: the denominators of the stored weight matrix."""

    tier = models.ForeignKey("loyalty.Tier", on_delete=models.CASCADE, related_name="+", verbose_name=_("tier"))
    members = models.PositiveIntegerField(_("members"))

    class Meta:
        verbose_name = _("tier size summary")
        verbose_name_plural = _("tier size summaries")
        constraints = [models.UniqueConstraint(fields=["chunk", "tier"], name="tier_size_summary_unique")]

    def __str__(self):
        return f"{self.members} on tier {self.tier_id} (chunk {self.chunk_id})"


class RuleUseSummary(SummaryRow):
    """Of the chunk's members on `tier` when the chunk was stored (closed ones aside), how many
    triggered `rule` on the complete program days of the stored weights period (events recorded
    before the run's as_of), and the growth it gave them. Distinct members add up across chunks
    because the chunks partition the members."""

    tier = models.ForeignKey("loyalty.Tier", on_delete=models.CASCADE, related_name="+", verbose_name=_("tier"))
    rule = models.ForeignKey(
        "loyalty.EarningRule", on_delete=models.CASCADE, related_name="+", verbose_name=_("earning rule")
    )
    members = models.PositiveIntegerField(_("members"))
    growth = models.BigIntegerField(_("growth"))

    class Meta:
        verbose_name = _("rule use summary")
        verbose_name_plural = _("rule use summaries")
        constraints = [models.UniqueConstraint(fields=["chunk", "tier", "rule"], name="rule_use_summary_unique")]

    def __str__(self):
        return f"{self.members} on tier {self.tier_id} used rule {self.rule_id} (chunk {self.chunk_id})"
