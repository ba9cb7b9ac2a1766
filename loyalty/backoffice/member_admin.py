"""Members in the admin: a changelist that stays fast on millions (indexed search, estimated counts)
and the member 360 page. Profiles are edited through members.services; balances only through
adjustments (loyalty.services.adjustments), tiers through the tier services."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rangefilter.filters import DateRangeFilterBuilder

from loyalty import extensions
from loyalty.backoffice.adjustments import adjust_member_view, adjust_members_action
from loyalty.backoffice.member_lifecycle import NoteForm, add_note_view, lifecycle_view
from loyalty.backoffice.paging import EstimatedCountPaginator
from loyalty.models import Adjustment
from loyalty.selectors.member_overview import member_overview
from loyalty.services import recalculate_tier_now
from loyalty.spreadsheets import SpreadsheetImportExportMixin
from members import services
from members.errors import LoyaltyError
from members.models import Member
from members.selectors import member_notes, search_members

from .member_resources import MemberExportResource, MemberImportResource


class MemberProfileForm(forms.ModelForm):
    """Validated by the same rules as the API's profile updates."""

    class Meta:
        model = Member
        fields = ("name", "email", "phone", "birthday", "language", "marketing_opt_in")

    def clean(self):
        cleaned = super().clean()
        try:
            services.clean_profile({name: cleaned.get(name) for name in self.changed_data})
        except LoyaltyError as error:
            for name, problems in error.fields.items():
                for problem in problems:
                    self.add_error(name if name in self.fields else None, problem)
        return cleaned


def tier_badge(tier):
    return format_html('<span class="badge tier-rank-{}">{}</span>', tier.rank, tier.name)


@admin.register(Member)
class MemberAdmin(SpreadsheetImportExportMixin, admin.ModelAdmin):
    form = MemberProfileForm
    import_resource_classes = [MemberImportResource]
    export_resource_classes = [MemberExportResource]
    list_display = (
        "external_id",
        "name",
        "phone",
        "tier_column",
        "status_column",
        "growth_value",
        "points_available",
        "points_pending",
        "joined_column",
        "last_activity_column",
    )
    list_display_links = ("external_id", "name")
    list_filter = ("tier", "status", ("joined_at", DateRangeFilterBuilder(title=gettext_lazy("joined"))))
    search_fields = ("external_id",)  # the search box; the lookups themselves are in search_members
    search_help_text = gettext_lazy("External id, phone, email, or the start of a name.")
    list_select_related = ("tier",)
    list_per_page = 50
    ordering = ("-id",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts are full scans on a million members
    actions = ("adjust_points", "adjust_growth", "freeze", "unfreeze", "recalculate_tier")
    change_form_template = "admin/members/member/member_360.html"
    fieldsets = (
        (gettext_lazy("Profile"), {"fields": ("name", "email", "phone", "birthday")}),
        (gettext_lazy("Messages"), {"fields": ("language", "marketing_opt_in")}),
    )

    def has_add_permission(self, request):
        return False  # members enrol through the storefront API or an import

    def has_delete_permission(self, request, obj=None):
        return False  # ledgers reference members; close them instead

    # Other apps' columns, filters and actions (loyalty.extensions; campaigns: tags and segments).
    def get_list_display(self, request):
        return (*super().get_list_display(request), *(column.render for column in extensions.member_list_columns))

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), *extensions.member_list_filters)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        for column in extensions.member_list_columns:
            queryset = column.prefetch(queryset)
        return queryset

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name, action in extensions.member_actions.items():
            if request.user.has_perm(action.permission):
                actions[name] = (action.function, name, action.description)
        return actions

    def get_search_results(self, request, queryset, search_term):
        return search_members(queryset, search_term), False

    @admin.display(description=gettext_lazy("tier"), ordering="tier__rank")
    def tier_column(self, member):
        return tier_badge(member.tier)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_column(self, member):
        return format_html('<span class="status status-{}">{}</span>', member.status, member.get_status_display())

    @admin.display(description=gettext_lazy("joined"), ordering="joined_at")
    def joined_column(self, member):
        return date_format(timezone.localtime(member.joined_at), "SHORT_DATE_FORMAT")

    @admin.display(description=gettext_lazy("last activity"), ordering="last_activity_at")
    def last_activity_column(self, member):
        if member.last_activity_at is None:
            return "—"
        return date_format(timezone.localtime(member.last_activity_at), "SHORT_DATETIME_FORMAT")

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        services.update_member(member=obj, changes=changes, actor=request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        member = get_object_or_404(Member.objects.select_related("tier"), pk=object_id)
        extra = {
            "overview": member_overview(member=member, now=timezone.now()),
            "tier_badge": tier_badge(member.tier),
            "can_adjust_points": request.user.has_perm("loyalty.adjust_points"),
            "can_adjust_growth": request.user.has_perm("loyalty.adjust_growth"),
            "can_change": self.has_change_permission(request, member),
            "can_freeze": self.has_freeze_permission(request),
            "can_close": request.user.has_perm("members.close_member") and member.status != Member.Status.CLOSED,
            "can_anonymise": request.user.has_perm("members.anonymise_member") and member.anonymised_at is None,
            "can_note": request.user.has_perm("members.add_membernote") and member.anonymised_at is None,
            "notes": member_notes(member=member) if request.user.has_perm("members.view_membernote") else None,
            "note_form": NoteForm(),
            "Status": Member.Status,
            "Adjustment": Adjustment,
        }
        return super().change_view(request, object_id, form_url, extra_context={**extra, **(extra_context or {})})

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path(
                "<int:member_id>/adjust/<str:kind>/",
                view(lambda request, member_id, kind: adjust_member_view(self, request, member_id, kind)),
                name="members_member_adjust",
            ),
            path("<int:member_id>/status/<str:change>/", view(self.status_view), name="members_member_status"),
            path("<int:member_id>/recalculate/", view(self.recalculate_view), name="members_member_recalculate"),
            path(
                "<int:member_id>/<str:step_name>/confirm/",
                view(lambda request, member_id, step_name: lifecycle_view(self, request, member_id, step_name)),
                name="members_member_step",
            ),
            path(
                "<int:member_id>/notes/",
                view(lambda request, member_id: add_note_view(self, request, member_id)),
                name="members_member_note",
            ),
            *super().get_urls(),
        ]

    def _changeable_member(self, request, member_id) -> Member:
        member = get_object_or_404(Member, pk=member_id)
        if not self.has_change_permission(request, member):
            raise PermissionDenied
        return member

    def status_view(self, request, member_id, change):
        return require_POST(self._status)(request, member_id, change)

    def _status(self, request, member_id, change):
        member = get_object_or_404(Member, pk=member_id)
        if not self.has_freeze_permission(request):
            raise PermissionDenied
        service = {"freeze": services.freeze_member, "unfreeze": services.unfreeze_member}.get(change)
        if service is None:
            raise PermissionDenied
        self._each(request, [member], service, _("frozen") if change == "freeze" else _("unfrozen"))
        return redirect(reverse("admin:members_member_change", args=[member.pk]))

    def recalculate_view(self, request, member_id):
        return require_POST(self._recalculate)(request, member_id)

    def _recalculate(self, request, member_id):
        member = self._changeable_member(request, member_id)
        self.recalculate_tier(request, Member.objects.filter(pk=member.pk))
        return redirect(reverse("admin:members_member_change", args=[member.pk]))

    def _each(self, request, members, service, done: str):
        changed = 0
        for member in members:
            try:
                service(member=member, actor=request.user)
                changed += 1
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if changed:
            self.message_user(request, _("%(n)d member(s) %(done)s.") % {"n": changed, "done": done})

    @admin.action(description=gettext_lazy("Adjust points of selected members…"), permissions=["adjust_points"])
    def adjust_points(self, request, queryset):
        return adjust_members_action(self, request, queryset, Adjustment.Kind.POINTS)

    @admin.action(description=gettext_lazy("Adjust growth of selected members…"), permissions=["adjust_growth"])
    def adjust_growth(self, request, queryset):
        return adjust_members_action(self, request, queryset, Adjustment.Kind.GROWTH)

    def has_adjust_points_permission(self, request):
        return request.user.has_perm("loyalty.adjust_points")

    def has_adjust_growth_permission(self, request):
        return request.user.has_perm("loyalty.adjust_growth")

    def has_freeze_permission(self, request):
        return request.user.has_perm("members.freeze_member")

    @admin.action(description=gettext_lazy("Freeze selected members (no earning or spending)"), permissions=["freeze"])
    def freeze(self, request, queryset):
        self._each(request, queryset, services.freeze_member, _("frozen"))

    @admin.action(description=gettext_lazy("Unfreeze selected members"), permissions=["freeze"])
    def unfreeze(self, request, queryset):
        self._each(request, queryset, services.unfreeze_member, _("unfrozen"))

    @admin.action(description=gettext_lazy("Recalculate tier now"), permissions=["change"])
    def recalculate_tier(self, request, queryset):
        moved = 0
        for member in queryset:
            try:
                if recalculate_tier_now(member=member, actor=request.user) is not None:
                    moved += 1
            except LoyaltyError as exc:  # that member stays as they were; the others are still done
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, _("%(n)d member(s) changed tier.") % {"n": moved})
