"""Campaigns (营销活动, docs/campaigns.md): what a campaign rewards, whom and when are its terms
(campaigns.terms), kept per version — a published campaign is never edited in place, so whatever
a version granted keeps pointing at the terms it granted under."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.names import display_name

from .. import terms as campaign_terms
from .targeting import CODE_HELP


def new_salt() -> str:
    return secrets.token_hex(16)


class Campaign(models.Model):
    class Kind(models.TextChoices):
        MULTIPLIER = campaign_terms.MULTIPLIER, _("Multiplier")
        BONUS = campaign_terms.BONUS, _("Bonus per event")
        GRANT = campaign_terms.GRANT, _("One-off grant")
        TRIGGERED = campaign_terms.TRIGGERED, _("Triggered reward")

    class Status(models.TextChoices):
        """What is stored; whether a published campaign is scheduled, running or over is a matter
        of its window (`status_at`)."""

        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        PUBLISHED = "published", _("Published")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    class Phase(models.TextChoices):
        """The lifecycle as people see it."""

        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    code = models.SlugField(_("code"), max_length=64, unique=True, help_text=CODE_HELP)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    publish_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("publishing asked by"),
        help_text=_("Above the approval limit: who asked to publish it; another person approves."),
    )
    public = models.BooleanField(
        _("public"), default=False, help_text=_("Listed for storefronts (GET campaigns/) while scheduled or running.")
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (%)"),
        default=0,
        validators=[MaxValueValidator(50)],
        help_text=_("Members held out to measure the campaign against; fixed once it is published."),
    )
    # Holdout assignment hashes (salt, member id): stable for the campaign's life, different per campaign.
    salt = models.CharField(max_length=32, default=new_salt, editable=False)
    current_version = models.ForeignKey(
        "CampaignVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("version in force"),
    )
    cloned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("cloned from")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "code"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        permissions = [
            ("publish_campaign", _("Can publish, pause, resume and end campaigns")),
        ]

    def __str__(self):
        return display_name(self.name)

    @property
    def current(self) -> CampaignVersion:
        if self.current_version is None:
            raise ValueError(f"Campaign {self.code} has no version.")
        return self.current_version

    def phase_at(self, moment: datetime) -> str:
        """Draft, scheduled, running, paused or ended at `moment` (a published campaign runs within
        its window)."""
        if self.status != self.Status.PUBLISHED:
            return self.status
        terms = campaign_terms.parse_terms(self.kind, self.current.terms)
        if terms.ends_at is not None and moment >= terms.ends_at:
            return self.Phase.ENDED
        if terms.starts_at is not None and moment < terms.starts_at:
            return self.Phase.SCHEDULED
        return self.Phase.RUNNING


class CampaignVersion(models.Model):
    """One set of terms. A draft's version is edited in place; once published, an edit is a new
    version, in force from then on. The segments the audience names are pinned to the versions
    current when it was published (campaigns.services.refresh.pin_sources keeps them refreshed),
    so a later edit of a segment's definition never changes a running audience."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="versions", verbose_name=_("campaign")
    )
    number = models.PositiveIntegerField(_("version"))
    terms = models.JSONField(_("terms"))
    segment_version = models.ForeignKey(
        "SegmentVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("segment (pinned version)"),
    )
    exclude_segment_version = models.ForeignKey(
        "SegmentVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("excluded segment (pinned version)"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    # campaigns.forecast.Forecast.as_json() of the terms, made when publishing was asked for.
    forecast = models.JSONField(_("forecast"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["campaign", "-number"]
        verbose_name = _("campaign version")
        verbose_name_plural = _("campaign versions")
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="campaignversion_once")]

    def __str__(self):
        return f"{self.campaign_id} v{self.number}"


class BudgetCounter(models.Model):
    """How much of one budget limit a campaign has used in one period: campaign-wide (member 0) or
    for one member. Claimed by a conditional UPDATE in the transaction that books the grant
    (campaigns.budgets), given back by returns that reverse the campaign's points. `used` is derived:
    loyalty_audit proves it against the grants."""

    class Budget(models.TextChoices):
        POINTS = "points", _("Points")
        GRANTS = "grants", _("Grants")
        PER_MEMBER_POINTS = "per_member_points", _("Points per member")
        PER_MEMBER_GRANTS = "per_member_grants", _("Grants per member")

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="+", verbose_name=_("campaign"))
    budget = models.CharField(_("budget"), max_length=20, choices=Budget.choices)
    member_id = models.BigIntegerField(_("member"), default=0, help_text=_("0: the whole campaign."))
    period_start = models.DateField(
        _("period from"), help_text=_("The first day of the day, week or month it counts (1970-01-01: total).")
    )
    used = models.BigIntegerField(_("used"), default=0)
    cap = models.BigIntegerField(_("limit"))

    class Meta:
        verbose_name = _("budget counter")
        verbose_name_plural = _("budget counters")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "budget", "member_id", "period_start"], name="budgetcounter_once"
            ),
        ]

    def __str__(self):
        return f"{self.campaign_id} {self.budget} {self.member_id} {self.period_start}: {self.used}/{self.cap}"


class CampaignGrant(models.Model):
    """What a campaign gave one member once: on an event (a multiplier's or a bonus's share), or for a
    trigger's occurrence. A held-out member's grant is a ghost: what they would have received, with
    nothing granted. `points_released`: what returns reversed of it (and gave back to its budget)."""

    # Each grant row is written with its event (hundreds a second): no index the others cover — the
    # campaign's is (campaign, granted_at), the event's campaigngrant_event_idx — and the coupon's only
    # where there is one.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="grants", verbose_name=_("campaign"), db_index=False
    )
    version = models.ForeignKey(CampaignVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("version"))
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    event = models.ForeignKey(
        "loyalty.Event",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("event"),
        db_index=False,
    )
    occurrence = models.CharField(
        _("occurrence"),
        max_length=64,
        blank=True,
        help_text=_(
            "Triggered and one-off grants: what it was given for (the domain event, the year, the dormancy "
            "spell, the grant) — one grant per campaign, member and occurrence."
        ),
    )
    coupon = models.ForeignKey(
        "rewards.Coupon",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("coupon"),
        db_index=False,
    )
    held_out = models.BooleanField(_("held out"), default=False)
    desired_points = models.BigIntegerField(_("points desired"), default=0)
    desired_growth = models.BigIntegerField(_("growth desired"), default=0)
    points = models.BigIntegerField(_("points granted"), default=0)
    growth = models.BigIntegerField(_("growth granted"), default=0)
    points_released = models.BigIntegerField(_("points released by returns"), default=0)
    granted_at = models.DateTimeField(_("granted at"))

    class Meta:
        ordering = ["-granted_at", "-id"]
        verbose_name = _("campaign grant")
        verbose_name_plural = _("campaign grants")
        indexes = [
            models.Index(fields=["campaign", "granted_at"]),
            models.Index(fields=["event"], name="campaigngrant_event_idx"),
            models.Index(fields=["coupon"], name="campaigngrant_coupon_idx", condition=models.Q(coupon__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member", "occurrence"],
                condition=~models.Q(occurrence=""),
                name="campaigngrant_once_per_occurrence",
            ),
        ]

    def __str__(self):
        return f"{self.campaign_id}: {self.member_id}"


class CampaignAssignment(models.Model):
    """A member of a campaign's audience when it was published, the population its uplift report
    compares (intent to treat): held out or treated by campaigns.earning.held_out(salt, member),
    stable for the campaign's life."""

    pk = models.CompositePrimaryKey("campaign_id", "member_id")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("campaign assignment")
        verbose_name_plural = _("campaign assignments")

    def __str__(self):
        return f"{self.campaign_id}: {self.member_id}"
