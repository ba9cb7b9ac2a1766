from decimal import Decimal

import uuid6
from django.conf import settings
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
    # What the member reads messages in (notifications): blank is the program's default language.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        default="",
        db_default="",  # and in the database, for the benchmarks' and imports' plain INSERTs
        help_text=_("Blank: the program's."),
    )
    # Consent to marketing messages (docs/notifications.md): off until the member says yes.
    marketing_opt_in = models.BooleanField(_("marketing messages"), default=False, db_default=False)
    marketing_opt_in_changed_at = models.DateTimeField(_("marketing consent changed"), null=True, blank=True)
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
    anonymised_at = models.DateTimeField(
        _("anonymised at"), null=True, blank=True, help_text=_("When the personal data was erased.")
    )

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
            ("close_member", _("Can close memberships")),
            ("anonymise_member", _("Can erase members' personal data")),
        ]

    def __str__(self):
        return f"{self.external_id} {self.name}".strip()

    @property
    def can_transact(self) -> bool:
        return self.status == self.Status.ACTIVE


class MemberNote(models.Model):
    """What staff wrote about a member, and the record of closing and anonymising: who, when, why.
    Never edited or deleted; anonymising erases the text of the notes written before."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CLOSED = "closed", _("Membership closed")
        ANONYMISED = "anonymised", _("Personal data erased")

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="notes", verbose_name=_("member"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.NOTE)
    text = models.TextField(_("text"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("member note")
        verbose_name_plural = _("member notes")
        indexes = [models.Index(fields=["member", "-created_at"], name="membernote_member_idx")]

    def __str__(self):
        return f"{self.member_id} {self.get_kind_display()}"


class DomainEventBatch(models.Model):
    """The domain events one `publish` wrote, as one unit of delivery order. The relay numbers the
    committed batches (`position`) in the order of their ids, which follow the order of the changes
    for any one member (members.outbox); so a row per publish is numbered after commit, instead of a
    number written into every event."""

    id = models.BigAutoField(primary_key=True)
    position = models.BigIntegerField(_("position"), null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("domain event batch")
        verbose_name_plural = _("domain event batches")
        indexes = [
            # The relay's next batches to number: few (numbered within seconds), so a small index.
            models.Index(fields=["id"], condition=Q(position__isnull=True), name="domainbatch_unnumbered_idx"),
        ]

    def __str__(self):
        return f"{self.pk} @ {self.position}"


class DomainEvent(models.Model):
    """The outbox (members.outbox): something that happened which someone outside may care about,
    written in the transaction of the change, so it exists exactly when the change does. The relay
    (loyalty.outbox) hands each to the registered subscribers in the order of its batch's position
    (then member and member sequence); pruned once every subscriber has it and it is older than
    OUTBOX_RETENTION_DAYS."""

    # UUIDv7 (time-ordered), the webhooks' message id. On PostgreSQL made in SQL from the time and the
    # event's number (members_event_id), so the set-based jobs make theirs in the statement; elsewhere
    # (SQLite) random.
    id = models.UUIDField(primary_key=True, default=uuid6.uuid7, editable=False)
    type = models.CharField(_("type"), max_length=64)
    schema_version = models.PositiveSmallIntegerField(_("schema version"), default=1)
    occurred_at = models.DateTimeField(_("occurred at"), help_text=_("When it happened (an event's own time)."))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    # No constraints on these two: the outbox never blocks (or is blocked by) the change it records.
    batch = models.ForeignKey(
        DomainEventBatch,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
        verbose_name=_("batch"),
    )
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=_("member"),
    )
    member_external_id = models.CharField(_("member external id"), max_length=64, blank=True)
    member_sequence = models.BigIntegerField(
        _("member sequence"),
        null=True,
        blank=True,
        help_text=_(
            "Rises with each of the member's changes (not by one): consumers drop what is older than they have."
        ),
    )
    payload = models.JSONField(_("payload"), default=dict)

    class Meta:
        verbose_name = _("domain event")
        verbose_name_plural = _("domain events")
        ordering = ["-id"]
        indexes = [
            # The admin's filter by member. Not unique: the numbers come from one sequence.
            models.Index(
                fields=["member", "member_sequence"],
                condition=Q(member__isnull=False),
                name="domainevent_member_idx",
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.member_external_id}#{self.member_sequence}" if self.member_id else self.type


class DomainEventNumber(models.Model):
    """Where the database has no sequences (SQLite, the demo's): the last `member_sequence` given,
    one row. PostgreSQL numbers from the sequence members_domainevent_number instead."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("domain event number")
        verbose_name_plural = _("domain event numbers")

    def __str__(self):
        return str(self.last)
