from django.contrib import admin, messages

from loyalty.admin import ReadOnlyAdmin
from loyalty.errors import LoyaltyError
from loyalty.spreadsheets import SpreadsheetImportExportMixin

from . import services
from .models import Member
from .resources import MemberExportResource, MemberImportResource


@admin.register(Member)
class MemberAdmin(SpreadsheetImportExportMixin, ReadOnlyAdmin):
    """Read-only view of members; changes go through the services (actions below)."""

    import_resource_classes = [MemberImportResource]
    export_resource_classes = [MemberExportResource]
    list_display = (
        "external_id",
        "name",
        "status",
        "tier",
        "growth_value",
        "points_available",
        "points_pending",
        "last_activity_at",
    )
    list_filter = ("status", "tier")
    search_fields = ("external_id", "name", "email", "phone")
    list_select_related = ("tier",)
    actions = ("freeze", "unfreeze")

    def _apply(self, request, queryset, service, done: str):
        changed = 0
        for member in queryset:
            try:
                service(member=member)
                changed += 1
            except LoyaltyError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        self.message_user(request, f"{changed} member(s) {done}.")

    def has_freeze_permission(self, request):
        return request.user.has_perm("members.freeze_member")

    @admin.action(description="Freeze selected members (no earning or spending)", permissions=["freeze"])
    def freeze(self, request, queryset):
        self._apply(request, queryset, services.freeze_member, "frozen")

    @admin.action(description="Unfreeze selected members", permissions=["freeze"])
    def unfreeze(self, request, queryset):
        self._apply(request, queryset, services.unfreeze_member, "unfrozen")
