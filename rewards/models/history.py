"""Configuration history of the rewards (see loyalty.models.history)."""

from simple_history import register

from .benefits import Benefit
from .catalog import Reward
from .coupons import CodePool, CouponTemplate

register(CouponTemplate)
register(CodePool)
# redeemed_quantity is a counter that redemptions move, not configuration.
register(Reward, excluded_fields=["redeemed_quantity"])
register(Benefit, m2m_fields=["tiers"])
