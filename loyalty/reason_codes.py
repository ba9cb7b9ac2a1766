"""The codes of the reasons the system writes on ledger entries, and their parameters; pure (the
planner uses them). loyalty.reasons stores and renders them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

POINTS_EXPIRED = "points_expired"
GROWTH_EXPIRED = "growth_expired"
REFUNDED_EXPIRED = "refunded_expired"
HELD_FOR_ORDER = "held_for_order"  # order
HOLD_NOT_CAPTURED = "hold_not_captured"  # order
HOLD_RELEASED = "hold_released"  # order
HOLD_REFUNDED = "hold_refunded"  # order: a captured points payment given back
HOLD_EXPIRED = "hold_expired"  # order
RETURN = "return"  # order
RULE = "rule"  # name: the earning rule's name when it was applied
REDEEMED = "redeemed"  # quantity, reward (its name)
ORDER_PAYMENT = "order_payment"  # order: points paid at checkout
REDEMPTION_CANCELLED = "redemption_cancelled"  # reward, note
BENEFIT = "benefit"  # benefit (its name), period
ADJUSTMENT = "adjustment"  # reason (an AdjustmentReason code), note
CAMPAIGN = "campaign"  # name, campaign (its id), code, version: a campaign's grant


@dataclass(frozen=True)
class Reason:
    """A reason the system writes: a code above and its parameters (plain JSON values)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
