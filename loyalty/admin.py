"""Configuration is edited here; ledgers and events are read-only (they change only through services)."""

from django.contrib import admin, messages
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from rangefilter.filters import DateRangeFilterBuilder
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from . import extensions
from .admin_history import ConfigHistoryAdmin
from .backoffice import (
    approvals,
    member_admin,  # noqa: F401  registers the members' admin (members is below loyalty)
    outbox_admin,  # noqa: F401  registers the outbox's admin (members.DomainEvent and the subscribers)
    plumbing,
    program_file,
    tier_whatif,
)
from .backoffice import jobs as backoffice_jobs
from .backoffice.paging import EstimatedCountPaginator
from .models import (
    Adjustment,
    ApprovalLimitChange,
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
from .selectors.dashboard import members_per_tier
from .spreadsheets import SpreadsheetExportMixin


@admin.register(ProgramSettings)
class ProgramSettingsAdmin(ConfigHistoryAdmin):
    list_display = ("currency", "timezone", "point_value", "pending_days", "downgrade_policy", "growth_mode")
    change_list_template = "admin/loyalty/programsettings/change_list.html"

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(lambda request: function(self, request))

        return [
            path("program-file/", view(program_file.import_view), name="loyalty_program_file"),
            path("program-file/export/", view(program_file.export_view), name="loyalty_program_export"),
            *super().get_urls(),
        ]

    # The approval limits decide what one person may do alone: they change only through an approval
    # limit change (loyalty.services.adjustments.request_limit_change), never in this form.
    readonly_fields = ("approval_limit_points", "approval_limit_growth")

    def has_add_permission(self, request):
        return not ProgramSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Tier)
class TierAdmin(ConfigHistoryAdmin):
    """Thresholds change on the what-if page, which previews who would move before saving."""

    list_display = ("rank", "code", "name", "threshold", "points_multiplier", "member_count")
    ordering = ("rank",)
    change_list_template = "admin/loyalty/tier/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return ("threshold",) if obj is not None else ()

    def get_urls(self):
        view = self.admin_site.admin_view(lambda request: tier_whatif.whatif_view(self, request))
        return [path("what-if/", view, name="loyalty_tier_whatif"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        self._counts = members_per_tier()
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("members"))
    def member_count(self, tier):
        return f"{self._counts.get(tier.pk, 0):,}"


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
    """Rows written only by services, in tables of millions: newest first by primary key, estimated
    counts, no facet counts, and a search box that matches its fields exactly (index lookups, no
    LIKE '%x%' scans). `?member=<id>` narrows any of them to one member (the member page's links)."""

    ordering = ("-id",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    search_help_text = _("Exact match.")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or not self.search_fields:
            return queryset, False
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{field: term})
        return queryset.filter(condition), False

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "member" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StorefrontFilter(admin.SimpleListFilter):
    """The storefronts from their own table: listing the distinct sources of millions of events
    would scan them all."""

    title = _("storefront")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return list(Storefront.objects.order_by("code").values_list("code", "name"))

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


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
    list_filter = ("event_type", StorefrontFilter, ("occurred_at", DateRangeFilterBuilder()))
    search_fields = ("event_id", "member__external_id", "order_id")
    list_select_related = ("member",)


@admin.register(GrowthEntry)
class GrowthEntryAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [GrowthEntryResource]
    list_display = ("created_at", "member", "kind", "amount", "remaining", "expires_at", "reason_column")
    list_filter = ("kind", ("created_at", DateRangeFilterBuilder()))
    search_fields = ("member__external_id",)
    list_select_related = ("member",)

    @admin.display(description=_("reason"))
    def reason_column(self, entry):
        return entry.reason_display()


@admin.register(PointsEntry)
class PointsEntryAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [PointsEntryResource]
    list_display = (
        "created_at",
        "member",
        "kind",
        "amount",
        "remaining",
        "available_at",
        "expires_at",
        "reason_column",
    )
    list_filter = ("kind", ("created_at", DateRangeFilterBuilder()))
    search_fields = ("member__external_id",)
    list_select_related = ("member",)
    reason_column = GrowthEntryAdmin.reason_column


@admin.register(TierChange)
class TierChangeAdmin(SpreadsheetExportMixin, ReadOnlyAdmin):
    resource_classes = [TierChangeResource]
    list_display = ("created_at", "member", "from_tier", "to_tier", "reason", "period")
    list_filter = ("reason", "to_tier", ("created_at", DateRangeFilterBuilder()))
    search_fields = ("member__external_id",)
    list_select_related = ("member", "from_tier", "to_tier")


def _live(run, content) -> str:
    """A cell the progress script (job_progress.js) keeps current while the run is running."""
    return format_html('<span data-run-id="{}" data-status="{}">{}</span>', run.pk, run.status, content)


def _live_count(run, field: str) -> str:
    return _live(run, format_html('<span data-field="{}">{}</span>', field, f"{getattr(run, field):,}"))


class JobFilter(admin.SimpleListFilter):
    """By the jobs' names, in the reader's language, not their codes."""

    title = _("job")
    parameter_name = "job"

    def lookups(self, request, model_admin):
        return [(name, job.label) for name, job in extensions.jobs.items()]

    def queryset(self, request, queryset):
        return queryset.filter(job=self.value()) if self.value() else queryset


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "job_column",
        "dry_run",
        "period",
        "status_column",
        "progress_bar",
        "members_column",
        "entries_column",
        "as_of",
        "started_at",
        "finished_at",
    )
    list_filter = (JobFilter, "status", "dry_run")
    change_list_template = "admin/loyalty/jobrun/change_list.html"
    change_form_template = "admin/loyalty/jobrun/change_form.html"
    fields = ("job", "period", "as_of", "dry_run", "started_by", "started_at", "finished_at")
    show_facets = admin.ShowFacets.NEVER

    def get_urls(self):
        return [
            path("start/<str:job>/<str:mode>/", self.admin_site.admin_view(backoffice_jobs.start), name="jobrun_start"),
            path("progress/", self.admin_site.admin_view(backoffice_jobs.progress), name="jobrun_progress"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {
            "jobs": backoffice_jobs.job_choices(timezone.now()),
            "can_run": request.user.has_perm("loyalty.run_job"),
        }
        return super().changelist_view(request, extra_context={**extra, **(extra_context or {})})

    @admin.display(description=_("job"), ordering="job")
    def job_column(self, run):
        return run.label

    @admin.display(description=_("status"), ordering="status")
    def status_column(self, run):
        label = format_html(
            '<span data-field="status" class="status status-{}">{}</span>', run.status, run.get_status_display()
        )
        return _live(run, label)

    @admin.display(description=_("progress"))
    def progress_bar(self, run):
        bar = format_html(
            '<progress class="job-progress" value="{}" max="{}"></progress> <span data-field="chunks">{}/{}</span>',
            run.chunks_done,
            max(run.chunks_total, 1),
            run.chunks_done,
            run.chunks_total,
        )
        return _live(run, bar)

    @admin.display(description=_("members changed"), ordering="members_changed")
    def members_column(self, run):
        return _live_count(run, "members_changed")

    @admin.display(description=_("entries written"), ordering="entries_written")
    def entries_column(self, run):
        return _live_count(run, "entries_written")


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = (
        "requested_at",
        "member",
        "kind",
        "signed_amount",
        "reason_column",
        "status_column",
        "requested_by",
        "decided_by",
    )
    list_filter = (approvals.PendingFirstFilter, "kind", "reason", ("requested_by", admin.RelatedOnlyFieldListFilter))
    search_fields = ("member__external_id",)
    list_select_related = ("member", "requested_by", "decided_by")
    actions = (approvals.approve, approvals.reject)
    date_hierarchy = None

    def has_approve_permission(self, request):
        return request.user.has_perm("loyalty.approve_adjustment")

    @admin.display(description=_("amount"), ordering="amount")
    def signed_amount(self, adjustment):
        css = "amount-plus" if adjustment.amount > 0 else "amount-minus"
        return format_html('<span class="{}">{}</span>', css, f"{adjustment.amount:+,}")

    @admin.display(description=_("reason"), ordering="reason")
    def reason_column(self, adjustment):
        return adjustment.reason_display()

    @admin.display(description=_("status"), ordering="status")
    def status_column(self, adjustment):
        return format_html(
            '<span class="status status-{}">{}</span>', adjustment.status, adjustment.get_status_display()
        )


@admin.register(ApprovalLimitChange)
class ApprovalLimitChangeAdmin(ReadOnlyAdmin):
    """Ask for a new approval limit (add), and approve or reject raises others asked for."""

    form = approvals.LimitChangeForm
    fields = ("kind", "new_limit", "note")
    list_display = (
        "requested_at",
        "kind",
        "previous_limit",
        "new_limit",
        "status",
        "requested_by",
        "decided_by",
        "note",
    )
    list_filter = ("status", "kind")
    list_select_related = ("requested_by", "decided_by")
    actions = (approvals.approve_limit_changes, approvals.reject_limit_changes)

    def has_change_limits_permission(self, request):
        return request.user.has_perm("loyalty.change_approval_limits")

    def has_view_permission(self, request, obj=None):
        return self.has_change_limits_permission(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self.has_change_limits_permission(request)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)

        class WithRequester(form_class):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, requester=request.user, **form_kwargs)

        return WithRequester

    def save_model(self, request, obj, form, change):
        """The form's clean() asked the service, which wrote the change (or refused it)."""

    def save_related(self, request, form, formsets, change):
        pass

    def response_add(self, request, obj, post_url_continue=None):
        if obj.status == ApprovalLimitChange.Status.PENDING:
            message = _("The raise to %(limit)s waits for approval by someone else with this permission.")
        else:
            message = _("The approval limit is now %(limit)s.")
        self.message_user(request, message % {"limit": f"{obj.new_limit:,}"})
        return redirect("admin:loyalty_approvallimitchange_changelist")


@admin.register(Storefront)
class StorefrontAdmin(ConfigHistoryAdmin):
    list_display = ("code", "name", "created_at")
    prepopulated_fields = {"code": ("name",)}


@admin.register(StorefrontAPIKey)
class StorefrontAPIKeyAdmin(APIKeyModelAdmin):
    """Create and revoke storefront keys; the key is shown once, on creation."""

    # The library's stub types its admin's tuples by their exact length.
    list_display = ("prefix", "name", "created", "expiry_date", "expired_column", "revoked", "storefront")  # type: ignore[assignment]
    list_filter = ("storefront", "revoked")  # type: ignore[assignment]

    @admin.display(description=_("expired"), boolean=True)
    def expired_column(self, key):
        return key.has_expired

    def save_model(self, request, obj, form, change):
        """As the library's, with a message that can be translated (the library formats its own
        before translating it)."""
        if change:
            super().save_model(request, obj, form, change)
            return
        key = self.model.objects.assign_key(obj)
        obj.save()
        self.message_user(
            request,
            _("The API key for %(name)s is: %(key)s. Store it somewhere safe: it will not be shown again.")
            % {"name": obj.name, "key": key},
            messages.WARNING,
        )


admin.site.unregister(APIKey)  # the library's own key model is unused; storefront keys replace it
plumbing.guard(admin.site)
