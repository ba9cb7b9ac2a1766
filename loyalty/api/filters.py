import django_filters
from django import forms

from loyalty.models import GrowthEntry, PointsEntry


class NoEmptyParameters(forms.Form):
    """`?kind=` is an error rather than "no filter": a storefront that sends an empty value has a bug."""

    def clean(self):
        cleaned = super().clean()
        for name in self.fields:
            if self.data.get(name) == "":
                self.add_error(name, "Must not be empty.")
        return cleaned


class StrictFilterSet(django_filters.FilterSet):
    """Every filter of the API: an empty value is refused (the schema says minLength 1)."""

    class Meta:
        form = NoEmptyParameters


class _LedgerFilter(StrictFilterSet):
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Entries from this moment on (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Entries before this moment (ISO 8601)."
    )


class PointsLedgerFilter(_LedgerFilter):
    kind = django_filters.ChoiceFilter(choices=PointsEntry.Kind.choices)

    class Meta(StrictFilterSet.Meta):
        model = PointsEntry
        fields = ["kind", "created_after", "created_before"]


class GrowthLedgerFilter(_LedgerFilter):
    kind = django_filters.ChoiceFilter(choices=GrowthEntry.Kind.choices)

    class Meta(StrictFilterSet.Meta):
        model = GrowthEntry
        fields = ["kind", "created_after", "created_before"]
