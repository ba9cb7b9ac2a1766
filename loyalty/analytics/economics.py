"""Points economics: what outstanding points are worth, the monthly flow of points, breakage, the
value a point buys in the mall against the budget, and tier benefits against the tier's spend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")
RATIO = Decimal("0.0001")


@dataclass(frozen=True)
class MonthFlow:
    month: date  # first day of the month, program time zone
    earned: int  # earn entries
    spent: int  # spends less refunds of spends
    expired: int
    deducted: int  # deductions and return reversals
    adjusted: int  # manual adjustments, net


@dataclass(frozen=True)
class Liability:
    available: int
    pending: int
    outstanding: int
    point_value: Decimal
    cash: Decimal  # outstanding x point value


@dataclass(frozen=True)
class RewardValue:
    code: str
    name: str
    units: int
    points: int
    cash: Decimal  # units x the reward's cash value
    value_per_point: Decimal | None
    over_budget: bool  # value per point above the program's target_value_per_point


@dataclass(frozen=True)
class BenefitCost:
    month: date
    tier_code: str
    grants: int
    coupons: int
    points: int
    value: Decimal  # cash value of what was granted (see grant_value)
    spend: Decimal  # the tier's net purchases that month
    value_to_spend: Decimal | None
    tier_name: str = ""  # for people; the code is for files


@dataclass(frozen=True)
class CampaignCost:
    month: date
    code: str
    name: str
    grants: int
    points: int
    coupons: int
    value: Decimal  # the points at the point value and the coupons at face value


@dataclass(frozen=True)
class CampaignLiability:
    code: str
    name: str
    points: int  # still held by members: not yet spent, expired or reversed
    cash: Decimal


def ratio(part, whole) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(RATIO) if whole else None


def liability(*, available: int, pending: int, point_value: Decimal) -> Liability:
    outstanding = available + pending
    return Liability(available, pending, outstanding, point_value, (outstanding * point_value).quantize(CENT))


def reward_value(*, code: str, name: str, units: int, points: int, unit_cash: Decimal, budget: Decimal) -> RewardValue:
    cash = (units * unit_cash).quantize(CENT)
    per_point = ratio(cash, points)
    return RewardValue(code, name, units, points, cash, per_point, per_point is not None and per_point > budget)


def every_month(flows: list[MonthFlow], first: date, count: int) -> list[MonthFlow]:
    """`count` months from `first` (a first of the month), months without entries as zeros."""
    found = {flow.month: flow for flow in flows}
    months = [date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(count)]
    return [found.get(month, MonthFlow(month, 0, 0, 0, 0, 0)) for month in months]


def breakage(flows: list[MonthFlow]) -> Decimal | None:
    """Expired over earned across the months given (the last 12 in the report)."""
    return ratio(sum(flow.expired for flow in flows), sum(flow.earned for flow in flows))


def overall_value_per_point(rewards: list[RewardValue]) -> Decimal | None:
    return ratio(sum((reward.cash for reward in rewards), Decimal(0)), sum(reward.points for reward in rewards))


def grant_value(*, coupons: int, coupon_face_value: Decimal, points: int, point_value: Decimal) -> Decimal:
    """Coupons whose cash value is known (amount off) at face value, points at the point value.
    Percent-off and free-shipping coupons have no face value and count as zero here."""
    return (coupons * coupon_face_value + points * point_value).quantize(CENT)


def benefit_cost(
    *,
    month: date,
    tier_code: str,
    grants: int,
    coupons: int,
    points: int,
    value: Decimal,
    spend: Decimal,
    tier_name: str = "",
) -> BenefitCost:
    return BenefitCost(
        month, tier_code, grants, coupons, points, value, spend, ratio(value, spend) if spend > 0 else None, tier_name
    )
