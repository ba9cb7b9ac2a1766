"""The one way in for rewards: redemptions, coupons, holds, code pools (and the jobs in bulk.py)."""

from .coupons import release_coupon, use_coupon, void_coupon
from .holds import capture_hold, hold_points, release_hold
from .pools import add_pool_code, import_pool_codes
from .redemptions import cancel_redemption, move_fulfilment, redeem

__all__ = [
    "add_pool_code",
    "cancel_redemption",
    "capture_hold",
    "hold_points",
    "import_pool_codes",
    "move_fulfilment",
    "redeem",
    "release_coupon",
    "release_hold",
    "use_coupon",
    "void_coupon",
]
