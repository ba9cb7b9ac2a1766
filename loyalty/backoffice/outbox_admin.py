"""The outbox in the admin (read-only): the domain events with their type, member and date filters,
and each subscriber's progress through them (how far behind, its last error, a "retry now")."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rangefilter.filters import DateRangeFilterBuilder

from loyalty import extensions, outbox
from loyalty.models import OutboxNumbering, OutboxSubscriber
from members.errors import LoyaltyError
from members.models import DomainEvent, Member
from members.outbox import TYPES

from .paging import EstimatedCountPaginator


class TypeFilter(admin.SimpleListFilter):
    """The published types from their list: the distinct types of millions of rows would be a scan."""

    title = _("type")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(event_type, event_type) for event_type in TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(DomainEvent)
class DomainEventAdmin(admin.ModelAdmin):
    list_display = ("recorded_at", "type", "member_link", "member_sequence", "delivery", "occurred_at")
    list_filter = (TypeFilter, ("occurred_at", DateRangeFilterBuilder()))
    search_fields = ("member_external_id",)
    search_help_text = _("A member's external id (exact): their events in order.")
    fields = (
        "id",
        "type",
        "schema_version",
        "occurred_at",
        "recorded_at",
        "member_link",
        "member_sequence",
        "delivery",
        "payload_text",
    )
    readonly_fields = fields
    ordering = ("-id",)
    list_select_related = ("batch",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(self, request, queryset, search_term):
        """A member's events by the (member, sequence) index: the external id resolves to the member."""
        term = search_term.strip()
        if not term:
            return queryset, False
        member_id = Member.objects.filter(external_id=term).values_list("pk", flat=True).first()
        return queryset.filter(member_id=member_id).order_by("-member_sequence"), False

    @admin.display(description=_("member"))
    def member_link(self, event):
        if not event.member_id:
            return "—"
        return format_html(
            '<a href="?q={}">{}</a>', event.member_external_id, event.member_external_id or event.member_id
        )

    @admin.display(description=_("delivery position"))
    def delivery(self, event):
        return event.batch.position if event.batch.position is not None else _("not numbered yet")

    @admin.display(description=_("payload"))
    def payload_text(self, event):
        return format_html("<pre>{}</pre>", json.dumps(event.payload, indent=2, ensure_ascii=False, sort_keys=True))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxSubscriber)
class OutboxSubscriberAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "registered",
        "behind",
        "delivered",
        "failures",
        "retry_at",
        "last_delivery_at",
        "last_error",
    )
    fields = list_display[:1] + ("position",) + list_display[1:]
    readonly_fields = fields
    actions = ("retry_now",)

    def changelist_view(self, request, extra_context=None):
        outbox.start_subscribers()  # a subscriber registered since the last relay run is listed too
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        last = OutboxNumbering.objects.values_list("last_position", flat=True).first() or 0
        return super().get_queryset(request).annotate(batches_behind=Greatest(Value(last) - F("position"), Value(0)))

    @admin.display(description=_("registered"), boolean=True)
    def registered(self, subscriber):
        return subscriber.name in extensions.outbox_subscribers

    @admin.display(description=_("batches behind"), ordering="batches_behind")
    def behind(self, subscriber):
        return f"{subscriber.batches_behind:,}"

    @admin.action(description=_("Retry the selected subscribers now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        retried = 0
        for subscriber in queryset:
            try:
                outbox.retry_now(subscriber=subscriber, actor=request.user)
                retried += 1
            except LoyaltyError as error:
                self.message_user(request, error.message, messages.WARNING)
        self.message_user(
            request,
            ngettext(
                "%(n)d subscriber will be tried at the next relay run.",
                "%(n)d subscribers will be tried at the next relay run.",
                retried,
            )
            % {"n": retried},
        )

    def has_retry_permission(self, request):
        return request.user.has_perm("loyalty.retry_outboxsubscriber")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
