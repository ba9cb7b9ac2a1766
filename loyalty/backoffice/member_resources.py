"""Members in spreadsheets: the export of the member list, and the import that enrols new members
and updates profiles through the services. Balances, tier and status are never imported: balances
change only through adjustments, the tier through the engine, the status through freeze/unfreeze."""

from __future__ import annotations

from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader
from import_export.widgets import BooleanWidget, CharWidget

from loyalty.services import enrol_member
from loyalty.spreadsheets import CalendarDateWidget, SpreadsheetResource, refusal
from members import services
from members.errors import LoyaltyError
from members.models import Member


class MemberImportResource(SpreadsheetResource):
    """A row whose external_id is new enrols a member; a known one updates the profile columns the
    file has. `referrer` (the inviting member's external_id) counts on enrolment only."""

    birthday = Field(attribute="birthday", column_name="birthday", widget=CalendarDateWidget())
    referrer = Field(column_name="referrer", widget=CharWidget(allow_blank=True))
    marketing_opt_in = Field(attribute="marketing_opt_in", column_name="marketing_opt_in", widget=BooleanWidget())

    class Meta:
        model = Member
        fields = ("external_id", "name", "email", "phone", "birthday", "language", "marketing_opt_in", "referrer")
        import_id_fields = ("external_id",)
        instance_loader_class = CachedInstanceLoader
        skip_unchanged = True
        report_skipped = True

    def save_instance(self, instance, is_create, row, **kwargs):
        profile = {name: getattr(instance, name) for name in services.PROFILE_FIELDS if name in row}
        if profile.get("marketing_opt_in", False) is None:  # a blank cell: the consent stays as it is
            del profile["marketing_opt_in"]
        try:
            if is_create:
                referrer = self.fields["referrer"].clean(row) if "referrer" in row else ""
                member = enrol_member(external_id=instance.external_id, referrer=referrer or None, **profile)
                # The preview and the admin log link the row to the member the service created.
                instance.pk = member.pk
            else:
                services.update_member(member=instance, changes=profile, actor=kwargs.get("user"))
        except LoyaltyError as exc:
            raise refusal(exc) from exc


class MemberExportResource(SpreadsheetResource):
    tier = Field(attribute="tier__code", column_name="tier")
    referrer = Field(attribute="referrer__external_id", column_name="referrer")

    class Meta:
        model = Member
        fields = (
            "external_id",
            "name",
            "email",
            "phone",
            "birthday",
            "language",
            "marketing_opt_in",
            "status",
            "tier",
            "growth_value",
            "points_available",
            "points_pending",
            "joined_at",
            "last_activity_at",
            "referrer",
        )
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        # Joined, not fetched per row: .iterator() cannot prefetch.
        return queryset.select_related("tier", "referrer")
