from . import history  # noqa: F401  registers the configuration history
from .benefits import Benefit, BenefitGrant
from .catalog import Reward
from .coupons import CodePool, Coupon, CouponTemplate, PoolCode
from .holds import PointsHold
from .redemptions import Redemption

__all__ = [
    "Benefit",
    "BenefitGrant",
    "CodePool",
    "Coupon",
    "CouponTemplate",
    "PointsHold",
    "PoolCode",
    "Redemption",
    "Reward",
]
