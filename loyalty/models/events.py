from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from loyalty.names import display_name

# The built-in event types, as migration 0003 created them (tests check the two agree): the engine's
# vocabulary, which the program file does not carry. Operators add their own types beside them.
BUILTIN_EVENT_TYPES = {
    "purchase": gettext_noop("Purchase"),
    "return": gettext_noop("Return (refund of a purchase)"),
    "check_in": gettext_noop("Daily check-in"),
    "login": gettext_noop("Login"),
    "profile_completed": gettext_noop("Profile completed"),
    "review": gettext_noop("Review"),
    "photo_review": gettext_noop("Photo review"),
    "invite": gettext_noop("Invited a friend"),
    "activity": gettext_noop("Took part in a platform activity"),
    "points_import": gettext_noop("Partner points import"),
    "complaint": gettext_noop("Unreasonable complaint"),
    "violation": gettext_noop("Rule violation"),
}


class EventType(models.Model):
    """Kinds of event a storefront may report. The built-ins (BUILTIN_EVENT_TYPES) carry engine
    behaviour; operators may add more."""

    PURCHASE = "purchase"
    RETURN = "return"

    code = models.SlugField(_("code"), max_length=64, primary_key=True)
    name = models.CharField(_("name"), max_length=128)
    is_builtin = models.BooleanField(_("built-in"), default=False, editable=False)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("event type")
        verbose_name_plural = _("event types")

    def __str__(self):
        return display_name(self.name) or self.code


class Event(models.Model):
    """Every accepted event, stored once per (source, event_id), with the result it produced."""

    source = models.CharField(_("source"), max_length=64, help_text=_("Which storefront (API key) or tool sent it."))
    event_id = models.CharField(_("event id"), max_length=128)
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="events", verbose_name=_("member")
    )
    event_type = models.ForeignKey(
        EventType, on_delete=models.PROTECT, related_name="events", verbose_name=_("event type")
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    order_id = models.CharField(_("order id"), max_length=128, blank=True)
    original_order_id = models.CharField(_("original order id"), max_length=128, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    fingerprint = models.CharField(
        _("fingerprint"), max_length=64, help_text=_("Hash of the request body, to spot conflicting replays.")
    )

    growth_delta = models.BigIntegerField(_("growth"), default=0)
    points_delta = models.BigIntegerField(_("points"), default=0)
    tier_after = models.ForeignKey(
        "loyalty.Tier", on_delete=models.PROTECT, related_name="+", verbose_name=_("tier after")
    )
    tier_changed = models.BooleanField(_("tier changed"), default=False)
    # What earning contributors (campaigns) added, one object per grant: planner.GrantShare.as_json()
    # (source, code, version, growth, points, desired_growth, desired_points). Empty: none.
    contributions = models.JSONField(_("contributions"), null=True, blank=True, editable=False)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["member", "-occurred_at"]),
            models.Index(
                fields=["member", "original_order_id"],
                condition=~Q(original_order_id=""),
                name="event_member_return_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="event_unique_per_source"),
            models.UniqueConstraint(
                fields=["member", "order_id"], condition=Q(event_type="purchase"), name="purchase_order_unique"
            ),
        ]
        permissions = [("export_event", _("Can export events to a spreadsheet"))]

    def __str__(self):
        return f"{self.source}:{self.event_id}"


class RuleHit(models.Model):
    """One counted application of a rule to an event; the daily and lifetime limits count these."""

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="rule_hits", verbose_name=_("event"))
    rule = models.ForeignKey(
        "loyalty.EarningRule", on_delete=models.PROTECT, related_name="hits", verbose_name=_("earning rule")
    )
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+", verbose_name=_("member"))
    local_day = models.DateField(_("local day"), help_text=_("The event's day in the program time zone."))
    growth = models.BigIntegerField(_("growth"))
    points = models.BigIntegerField(_("points"))

    class Meta:
        verbose_name = _("rule hit")
        verbose_name_plural = _("rule hits")
        indexes = [models.Index(fields=["member", "rule", "local_day"])]
        constraints = [models.UniqueConstraint(fields=["event", "rule"], name="rule_hit_once_per_event")]

    def __str__(self):
        return f"{self.rule_id} on event {self.event_id}"
