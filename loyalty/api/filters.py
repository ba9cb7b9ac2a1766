import django_filters

from loyalty.models import GrowthEntry, PointsEntry


class _LedgerFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Entries from this moment on (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Entries before this moment (ISO 8601)."
    )


class PointsLedgerFilter(_LedgerFilter):
    kind = django_filters.ChoiceFilter(choices=PointsEntry.Kind.choices)

    class Meta:
        model = PointsEntry
        fields = ["kind", "created_after", "created_before"]


class GrowthLedgerFilter(_LedgerFilter):
    kind = django_filters.ChoiceFilter(choices=GrowthEntry.Kind.choices)

    class Meta:
        model = GrowthEntry
        fields = ["kind", "created_after", "created_before"]
