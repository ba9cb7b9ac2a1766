"""Response bodies of the rewards API (and, for the schema, request bodies). Requests are validated by
the services; the request serializers only describe them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.api.request_fields import MoneyField, optional_text, required_text
from loyalty.models import ProgramSettings
from rewards import calculations
from rewards.services.inputs import MAX_POINTS


class MinTierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField()


class RewardSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.CharField()
    kind = serializers.ChoiceField(choices=["coupon", "code", "goods", "points_to_cash"])
    category = serializers.CharField()
    points_cost = serializers.IntegerField()
    cash_value = serializers.DecimalField(max_digits=12, decimal_places=2)
    stock_left = serializers.IntegerField(allow_null=True, help_text="null = unlimited")
    per_member_limit = serializers.IntegerField(allow_null=True)
    limit_period = serializers.ChoiceField(choices=["day", "month", "year", "ever"])
    min_tier = MinTierSerializer(allow_null=True)
    visible_until = serializers.DateTimeField(allow_null=True)
    sort_order = serializers.IntegerField()
    affordable = serializers.SerializerMethodField(help_text="with member=: enough available points for one unit")
    eligible = serializers.SerializerMethodField(help_text="with member=: tier, limit, stock and status allow it")
    reason = serializers.SerializerMethodField(
        help_text="with member=, when not eligible: tier_required, limit_reached, out_of_stock, member_frozen, "
        "member_closed"
    )

    def _availability(self, reward):
        return self.context.get("availability", {}).get(reward.pk)

    def get_affordable(self, reward) -> bool | None:
        found = self._availability(reward)
        return found.affordable if found else None

    def get_eligible(self, reward) -> bool | None:
        found = self._availability(reward)
        return found.eligible if found else None

    def get_reason(self, reward) -> str | None:
        found = self._availability(reward)
        return found.reason if found else None


class CouponSerializer(serializers.Serializer):
    code = serializers.CharField()
    member = serializers.CharField(source="member.external_id")
    template = serializers.CharField(source="template.code")
    name = serializers.CharField(source="template.name")
    kind = serializers.ChoiceField(choices=["amount_off", "percent_off", "free_shipping"])
    value = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="money off, or percent off")
    min_spend = serializers.DecimalField(max_digits=12, decimal_places=2)
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(help_text="exclusive")
    status = serializers.ChoiceField(choices=["active", "used", "expired", "void"])
    issued_at = serializers.DateTimeField()
    used_order_id = serializers.CharField(allow_blank=True)
    used_at = serializers.DateTimeField(allow_null=True)


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["completed", "pending", "shipped", "delivered", "cancelled"])
    member = serializers.CharField(source="member.external_id")
    reward = serializers.CharField(source="reward.code")
    reward_name = serializers.CharField(source="reward.name")
    kind = serializers.CharField(source="reward.kind")
    quantity = serializers.IntegerField()
    points_spent = serializers.IntegerField()
    balance_after = serializers.IntegerField(help_text="available points right after the redemption")
    coupons = CouponSerializer(many=True)
    codes = serializers.SerializerMethodField(help_text="partner codes handed out (code rewards)")
    shipping_address = serializers.CharField(allow_blank=True)
    carrier = serializers.CharField(allow_blank=True, help_text="goods: who delivers the parcel, once shipped")
    tracking_number = serializers.CharField(allow_blank=True, help_text="goods: the carrier's parcel number")
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_codes(self, redemption) -> list[str]:
        return [code.code for code in redemption.codes.all()]


class HoldSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    member = serializers.CharField(source="member.external_id")
    order_id = serializers.CharField()
    amount = serializers.IntegerField(help_text="points held")
    cash_value = serializers.SerializerMethodField(help_text="what the held points pay, at the program's point value")
    status = serializers.ChoiceField(choices=["held", "captured", "released"])
    captured_amount = serializers.IntegerField()
    balance_after = serializers.IntegerField(help_text="available points right after the hold")
    expires_at = serializers.DateTimeField(help_text="released automatically if not captured by then")
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2))
    def get_cash_value(self, hold) -> str:
        return str(calculations.cash_value_of_points(hold.amount, ProgramSettings.current().point_value))


class GrantSerializer(serializers.Serializer):
    period = serializers.CharField()
    granted_at = serializers.DateTimeField()
    coupons = serializers.IntegerField(source="coupon_count")
    points = serializers.IntegerField()
    growth = serializers.IntegerField()


class TierBenefitSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    entitlement = serializers.ChoiceField(choices=["none", "monthly_coupons", "birthday_gift", "referral_rebate"])
    rebate_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)


class MemberBenefitSerializer(serializers.Serializer):
    code = serializers.CharField(source="benefit.code")
    name = serializers.CharField(source="benefit.name")
    description = serializers.CharField(source="benefit.description")
    entitlement = serializers.CharField(source="benefit.entitlement")
    rebate_percent = serializers.DecimalField(
        source="benefit.rebate_percent", max_digits=5, decimal_places=2, allow_null=True
    )
    period = serializers.CharField(allow_null=True, help_text="the current entitlement period (2026-11, or 2026)")
    granted = GrantSerializer(source="grant", allow_null=True, help_text="what this period's grant gave, if any yet")


# --- requests (schema only) -------------------------------------------------------------------------


class RedemptionRequest(serializers.Serializer):
    member = required_text(64, help_text="the member's external_id")
    reward = required_text(64, help_text="the reward's code")
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=100, default=1)
    idempotency_key = required_text(128, help_text="unique per storefront; retries reuse it")
    shipping_address = optional_text(1000, allow_null=True, help_text="required for goods")


class CancelRequest(serializers.Serializer):
    reason = optional_text(255, allow_null=True)


class CouponUseRequest(serializers.Serializer):
    order_id = required_text(128)
    order_amount = MoneyField(required=False, allow_null=True, help_text="checked against the minimum spend")
    member = required_text(64, required=False, allow_null=True, help_text="checked: the coupon must be theirs")


class CouponReleaseRequest(serializers.Serializer):
    order_id = required_text(128, help_text="the order the coupon was used for")


class HoldRequest(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, max_value=MAX_POINTS, help_text="points to hold")
    order_id = required_text(128)
    idempotency_key = required_text(128)


class CaptureRequest(serializers.Serializer):
    amount = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_POINTS, help_text="default: all held points; at most those"
    )
