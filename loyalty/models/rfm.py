"""Each member's RFM, kept by the nightly store_member_rfm job (loyalty.services.rfm)."""

from django.db import models


class MemberRFM(models.Model):
    """A member's recency, frequency and monetary value over the window before `computed_at`,
    stored nightly by the `store_member_rfm` job: the program design report's RFM section reads it,
    and campaigns target on it. The M x F quadrant is not stored: it depends on cuts (the medians, or
    an operator's values) over all members, which a chunk of members does not see;
    `campaigns.selectors.members_in_quadrant` applies them."""

    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, primary_key=True, related_name="rfm")
    window_days = models.PositiveSmallIntegerField()
    frequency = models.PositiveIntegerField(help_text="Purchases in the window.")
    monetary = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Purchases less returns in the window (not below 0)."
    )
    last_purchase_at = models.DateTimeField(null=True, blank=True, help_text="Last purchase in the window.")
    recency_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Whole days from the last purchase to computed_at; empty: none in the window."
    )
    # The member as they were at computed_at, so the report's RFM section is one snapshot (and reads
    # one narrow table instead of joining a million members).
    tier = models.ForeignKey(
        "loyalty.Tier", on_delete=models.SET_NULL, null=True, blank=True, db_index=False, related_name="+"
    )
    growth_value = models.PositiveBigIntegerField(default=0)
    closed = models.BooleanField(default=False, help_text="The member was closed (the reports leave them out).")
    period = models.CharField(max_length=16, help_text="The job run's period (program day).")
    computed_at = models.DateTimeField(help_text="The job run's as_of: the end of the window.")

    class Meta:
        db_table = "loyalty_memberrfm"
        verbose_name = "member RFM"
        verbose_name_plural = "member RFM"
        indexes = [models.Index(fields=["monetary", "frequency"], name="member_rfm_m_f_idx")]

    def __str__(self):
        return f"RFM of member {self.member_id}: F {self.frequency}, M {self.monetary}, R {self.recency_days}"
