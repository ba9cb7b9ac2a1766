from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.Model):
    """Kinds of event a storefront may report. The built-ins (migration 0003) carry engine behaviour;
    operators may add more."""

    PURCHASE = "purchase"
    RETURN = "return"

    code = models.SlugField(max_length=64, primary_key=True)
    name = models.CharField(max_length=128)
    is_builtin = models.BooleanField(default=False, editable=False)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Event(models.Model):
    """Every accepted event, stored once per (source, event_id), with the result it produced."""

    source = models.CharField(max_length=64, help_text="Which storefront (API key) or tool sent it.")
    event_id = models.CharField(max_length=128)
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="events")
    event_type = models.ForeignKey(EventType, on_delete=models.PROTECT, related_name="events")
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    order_id = models.CharField(max_length=128, blank=True)
    original_order_id = models.CharField(max_length=128, blank=True)
    data = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64, help_text="Hash of the request body, to spot conflicting replays.")

    growth_delta = models.IntegerField(default=0)
    points_delta = models.IntegerField(default=0)
    tier_after = models.ForeignKey("loyalty.Tier", on_delete=models.PROTECT, related_name="+")
    tier_changed = models.BooleanField(default=False)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
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

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="rule_hits")
    rule = models.ForeignKey("loyalty.EarningRule", on_delete=models.PROTECT, related_name="hits")
    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    local_day = models.DateField(help_text="The event's day in the program time zone.")
    growth = models.IntegerField()
    points = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["member", "rule", "local_day"])]
        constraints = [models.UniqueConstraint(fields=["event", "rule"], name="rule_hit_once_per_event")]

    def __str__(self):
        return f"{self.rule_id} on event {self.event_id}"
