"""Tags and segments: who the members are (docs/segments.md). Members' RFM, which segments read, is
kept by the engine (loyalty.models.MemberRFM). Every write goes through campaigns.services."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history import register as simple_history_register

from loyalty.names import display_name

CODE_HELP = _("Letters, digits, hyphens and underscores; how storefronts and the program file name it.")


class Tag(models.Model):
    """A label a member carries (标签): set by hand, by a storefront, by an import, or kept by a rule
    (a segment definition the nightly job re-evaluates)."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Set by people and storefronts")
        RULE = "rule", _("Kept by a rule")

    code = models.SlugField(_("code"), max_length=64, unique=True, help_text=CODE_HELP)
    name = models.CharField(_("name"), max_length=128)
    group = models.SlugField(
        _("group"), max_length=32, blank=True, help_text=_("For grouping on screens: lifecycle, value, preference …")
    )
    colour = models.CharField(
        _("colour"),
        max_length=7,
        default="#64748b",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour as #RRGGBB."))],
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.MANUAL)
    definition = models.JSONField(
        _("definition"), null=True, blank=True, help_text=_("Rule tags: who carries it (a segment definition).")
    )
    ttl_days = models.PositiveIntegerField(
        _("time to live (days)"),
        null=True,
        blank=True,
        help_text=_("Manual tags: removed this many days after they are set, unless set with an expiry."),
    )
    api_writable = models.BooleanField(_("storefronts may set it"), default=False)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive tag is hidden from every read and cannot be set.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["group", "code"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="manual", definition__isnull=True) | Q(kind="rule", definition__isnull=False),
                name="tag_rule_has_definition",
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        return display_name(self.name)


class TagSource(models.TextChoices):
    MANUAL = "manual", _("Staff")
    RULE = "rule", _("Rule")
    IMPORT = "import", _("Import")
    API = "api", _("Storefront")


class MemberTag(models.Model):
    """A tag a member carries now; its history is in TagChange."""

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="tags", verbose_name=_("member")
    )
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="carriers", verbose_name=_("tag"))
    source = models.CharField(_("source"), max_length=8, choices=TagSource.choices)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("set by"),
    )
    storefront = models.ForeignKey(
        "loyalty.Storefront",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("storefront"),
    )
    set_at = models.DateTimeField(_("set at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member tag")
        verbose_name_plural = _("member tags")
        permissions = [("tag_members", _("Can put tags on members and take them off"))]
        constraints = [models.UniqueConstraint(fields=["member", "tag"], name="membertag_once")]
        indexes = [
            models.Index(fields=["tag", "member"], name="membertag_tag_idx"),
            models.Index(fields=["expires_at"], condition=Q(expires_at__isnull=False), name="membertag_expiry_idx"),
        ]

    def __str__(self):
        return f"{self.member_id}: {self.tag_id}"


class TagChange(models.Model):
    """Append-only: every add and remove of a member's tag, who or what did it and why."""

    class Action(models.TextChoices):
        ADDED = "added", _("Added")
        REMOVED = "removed", _("Removed")

    class Reason(models.TextChoices):
        SET = "set", _("Set")
        UNSET = "unset", _("Taken off")
        RULE = "rule", _("The rule's refresh")
        EXPIRED = "expired", _("Expired")

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="changes", verbose_name=_("tag"))
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    source = models.CharField(_("source"), max_length=8, choices=TagSource.choices)
    reason = models.CharField(_("reason"), max_length=8, choices=Reason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    storefront = models.ForeignKey(
        "loyalty.Storefront",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("storefront"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("tag change")
        verbose_name_plural = _("tag changes")
        indexes = [models.Index(fields=["member", "-created_at"], name="tagchange_member_idx")]

    def __str__(self):
        return f"{self.action} {self.tag_id}"


class Segment(models.Model):
    """Who a campaign, a notification or a report is about. A dynamic segment is recomputed from its
    current version's definition; a static one is an uploaded list; a snapshot is a dynamic
    segment's members frozen at a moment. Editing a definition makes a new version."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (recomputed)")
        STATIC = "static", _("Static (an uploaded list)")
        SNAPSHOT = "snapshot", _("Snapshot (frozen at a moment)")

    code = models.SlugField(_("code"), max_length=64, unique=True, help_text=CODE_HELP)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.DYNAMIC)
    current_version = models.ForeignKey(
        "SegmentVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("current version"),
    )
    snapshot_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="snapshots", verbose_name=_("frozen from")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self):
        return display_name(self.name)

    @property
    def current(self) -> SegmentVersion:
        """The current version (every saved segment has one)."""
        if self.current_version is None:
            raise ValueError(f"Segment {self.code} has no version yet.")
        return self.current_version


class SegmentVersion(models.Model):
    """One definition of a segment (or one uploaded list, or one snapshot), with its materialised
    membership (SegmentMember) and the figures of its last computation."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="versions", verbose_name=_("segment"))
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    member_count = models.PositiveBigIntegerField(_("members"), default=0)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)
    compute_ms = models.PositiveIntegerField(_("compute time (ms)"), null=True, blank=True)
    # The job run compute_ms was summed over (the nightly refresh adds each chunk's time).
    last_run_id = models.BigIntegerField(null=True, blank=True, editable=False)
    # A new version of a dynamic segment is computed chunk by chunk (each its own transaction, so it
    # can be resumed from `computed_through`) before it becomes current; computed_at is set when done.
    computing = models.BooleanField(_("computing"), default=False)
    computed_through = models.BigIntegerField(null=True, blank=True, editable=False)
    chunks_total = models.PositiveIntegerField(_("chunks in total"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)

    class Meta:
        ordering = ["segment", "-number"]
        verbose_name = _("segment version")
        verbose_name_plural = _("segment versions")
        constraints = [models.UniqueConstraint(fields=["segment", "number"], name="segmentversion_once")]

    def __str__(self):
        return gettext("version %(number)s") % {"number": self.number}


class SegmentMember(models.Model):
    """A member of a segment version, materialised: recomputed set-based, entrants and leavers found
    by difference (each a segment.entered / segment.left event)."""

    pk = models.CompositePrimaryKey("version_id", "member_id")
    version = models.ForeignKey(SegmentVersion, on_delete=models.CASCADE, related_name="members")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        indexes = [models.Index(fields=["member"], name="segmentmember_member_idx")]

    def __str__(self):
        return f"{self.version_id}: {self.member_id}"


class PendingRefresh(models.Model):
    """A member the domain events say changed, waiting for their tags and segments to be refreshed
    (campaigns.services.refresh.refresh_pending, every minute): several changes within the wait
    are one refresh."""

    member = models.OneToOneField("members.Member", on_delete=models.CASCADE, primary_key=True, related_name="+")
    noted_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("member waiting for a segment refresh")
        verbose_name_plural = _("members waiting for a segment refresh")

    def __str__(self):
        return str(self.member_id)


# The configuration history of tags (loyalty.models.history): who changed what, shown on each tag's
# History page.
simple_history_register(Tag)
