"""The ledgers, events and tier changes as spreadsheets (export only: they change only through the
services). References are exported by their codes and external ids, joined in one query."""

from __future__ import annotations

from import_export.fields import Field

from loyalty.spreadsheets import SpreadsheetResource

from .models import Event, GrowthEntry, PointsEntry, TierChange


class _LedgerResource(SpreadsheetResource):
    member = Field(attribute="member__external_id", column_name="member")
    rule = Field(attribute="rule__code", column_name="rule")
    actor = Field(attribute="actor__username", column_name="actor")

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("member", "rule", "actor")


class PointsEntryResource(_LedgerResource):
    class Meta:
        model = PointsEntry
        fields = (
            "id",
            "created_at",
            "member",
            "kind",
            "amount",
            "remaining",
            "available_at",
            "released_at",
            "expires_at",
            "reason",
            "rule",
            "event",
            "actor",
            "source",
            "reference",
        )
        export_order = fields


class GrowthEntryResource(_LedgerResource):
    class Meta:
        model = GrowthEntry
        fields = (
            "id",
            "created_at",
            "member",
            "kind",
            "amount",
            "remaining",
            "expires_at",
            "reason",
            "rule",
            "event",
            "actor",
        )
        export_order = fields


class EventResource(SpreadsheetResource):
    member = Field(attribute="member__external_id", column_name="member")
    tier_after = Field(attribute="tier_after__code", column_name="tier_after")

    class Meta:
        model = Event
        fields = (
            "id",
            "source",
            "event_id",
            "member",
            "event_type",
            "occurred_at",
            "amount",
            "order_id",
            "original_order_id",
            "growth_delta",
            "points_delta",
            "tier_after",
            "tier_changed",
            "recorded_at",
        )
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("member", "tier_after")


class TierChangeResource(SpreadsheetResource):
    member = Field(attribute="member__external_id", column_name="member")
    from_tier = Field(attribute="from_tier__code", column_name="from_tier")
    to_tier = Field(attribute="to_tier__code", column_name="to_tier")
    actor = Field(attribute="actor__username", column_name="actor")

    class Meta:
        model = TierChange
        fields = (
            "id",
            "created_at",
            "member",
            "from_tier",
            "to_tier",
            "reason",
            "period",
            "growth_value",
            "actor",
            "note",
        )
        export_order = fields

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("member", "from_tier", "to_tier", "actor")
