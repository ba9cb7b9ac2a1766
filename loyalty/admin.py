"""Configuration is edited here; ledgers and events are read-only (they change only through services)."""

from django.contrib import admin
from django.utils.html import format_html
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from .admin_history import ConfigHistoryAdmin
from .models import (
    EarningRule,
    Event,
    EventType,
    GrowthEntry,
    JobRun,
    PointsEntry,
    ProgramSettings,
    Storefront,
    StorefrontAPIKey,
    Tier,
    TierChange,
)
from .resources import EventResource, GrowthEntryResource, PointsEntryResource, TierChangeResource
from .spreadsheets import SpreadsheetExportMixin


@admin.register(ProgramSettings)
class ProgramSettingsAdmin(ConfigHistoryAdmin):
    list_display = ("currency", "timezone", "point_value", "pending_days", "downgrade_policy", "growth_mode")

    def has_add_permission(self, request):
        return not ProgramSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tier)
class TierAdmin(ConfigHistoryAdmin):
    list_display = ("rank", "code", "name", "threshold", "points_multiplier")
    ordering = ("rank",)


@admin.register(EventType)
class EventTypeAdmin(ConfigHistoryAdmin):
    list_display = ("code", "name", "is_builtin")


@admin.register(EarningRule)
class EarningRuleAdmin(ConfigHistoryAdmin):
    list_display = (
        "code",
        "event_type",
        "growth",
        "points",
        "growth_per_unit",
        "points_per_unit",
        "apply_tier_multiplier",
        "daily_limit",
        "lifetime_limit",
        "is_active",
    )
    list_filter = ("event_type", "is_active")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [EventResource]
    list_display = (
        "source",
        "event_id",
        "member",
        "event_type",
        "occurred_at",
        "amount",
        "growth_delta",
        "points_delta",
        "tier_changed",
    )
    list_filter = ("event_type", "source")
    search_fields = ("event_id", "member__external_id", "order_id")
    list_select_related = ("member",)


@admin.register(GrowthEntry)
class GrowthEntryAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [GrowthEntryResource]
    list_display = ("created_at", "member", "kind", "amount", "remaining", "expires_at", "reason")
    list_filter = ("kind",)
    search_fields = ("member__external_id",)
    list_select_related = ("member",)


@admin.register(PointsEntry)
class PointsEntryAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [PointsEntryResource]
    list_display = ("created_at", "member", "kind", "amount", "remaining", "available_at", "expires_at", "reason")
    list_filter = ("kind",)
    search_fields = ("member__external_id",)
    list_select_related = ("member",)


@admin.register(TierChange)
class TierChangeAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [TierChangeResource]
    list_display = ("created_at", "member", "from_tier", "to_tier", "reason", "period")
    list_filter = ("reason", "to_tier")
    search_fields = ("member__external_id",)
    list_select_related = ("member", "from_tier", "to_tier")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "job",
        "period",
        "status",
        "progress_bar",
        "members_changed",
        "entries_written",
        "as_of",
        "started_at",
        "finished_at",
    )
    list_filter = ("job", "status")

    @admin.display(description="progress")
    def progress_bar(self, run):
        return format_html(
            '<progress value="{}" max="{}" title="{} of {} chunks"></progress>',
            run.chunks_done,
            max(run.chunks_total, 1),
            run.chunks_done,
            run.chunks_total,
        )


@admin.register(Storefront)
class StorefrontAdmin(ConfigHistoryAdmin):
    list_display = ("code", "name", "created_at")
    prepopulated_fields = {"code": ("name",)}


@admin.register(StorefrontAPIKey)
class StorefrontAPIKeyAdmin(APIKeyModelAdmin):
    """Create and revoke storefront keys; the key is shown once, on creation."""

    list_display = (*APIKeyModelAdmin.list_display, "storefront")
    list_filter = ("storefront", "revoked")


admin.site.unregister(APIKey)  # the library's own key model is unused; storefront keys replace it
