"""Rewards refusals with stable codes; the API's error handler serves them like every LoyaltyError."""

from members.errors import LoyaltyError


class RewardNotFound(LoyaltyError):
    code = "reward_not_found"
    http_status = 404


class RedemptionNotFound(LoyaltyError):
    code = "redemption_not_found"
    http_status = 404


class CouponNotFound(LoyaltyError):
    code = "coupon_not_found"
    http_status = 404


class HoldNotFound(LoyaltyError):
    code = "hold_not_found"
    http_status = 404


class RewardUnavailable(LoyaltyError):
    code = "reward_unavailable"


class TierRequired(LoyaltyError):
    code = "tier_required"


class LimitReached(LoyaltyError):
    code = "limit_reached"


class OutOfStock(LoyaltyError):
    code = "out_of_stock"


class CouponNotUsable(LoyaltyError):
    """`fields["reason"]` names why: already_used, void, expired, not_yet_valid, below_minimum_spend,
    other_member."""

    code = "coupon_not_usable"


class CouponNotReleasable(LoyaltyError):
    code = "coupon_not_releasable"


class RedemptionNotCancellable(LoyaltyError):
    code = "redemption_not_cancellable"


class InvalidFulfilment(LoyaltyError):
    code = "invalid_fulfilment"


class HoldNotActive(LoyaltyError):
    code = "hold_not_active"


class HoldExpired(LoyaltyError):
    code = "hold_expired"
