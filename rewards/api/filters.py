import django_filters

from loyalty.api.filters import StrictFilterSet
from rewards.models import Coupon, Redemption, Reward

ORDERINGS = {
    "points_cost": ("points_cost", "sort_order", "code"),
    "-points_cost": ("-points_cost", "sort_order", "code"),
    "sort_order": ("sort_order", "points_cost", "code"),
}


class RewardFilter(StrictFilterSet):
    kind = django_filters.ChoiceFilter(choices=Reward.Kind.choices)
    category = django_filters.CharFilter()
    member = django_filters.CharFilter(
        method="for_member", label="A member's external_id: mark which rewards they can afford and redeem."
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(o, o) for o in ORDERINGS], method="order", label="points_cost, -points_cost or sort_order (default)"
    )

    class Meta(StrictFilterSet.Meta):
        model = Reward
        fields = ["kind", "category", "member", "ordering"]

    def order(self, queryset, name, value):
        return queryset.order_by(*ORDERINGS[value])

    def for_member(self, queryset, name, value):
        return queryset  # the view marks affordability; the catalog itself is the same for everyone


class CouponFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=Coupon.Status.choices)

    class Meta(StrictFilterSet.Meta):
        model = Coupon
        fields = ["status"]


class RedemptionFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=Redemption.Status.choices)

    class Meta(StrictFilterSet.Meta):
        model = Redemption
        fields = ["status"]
