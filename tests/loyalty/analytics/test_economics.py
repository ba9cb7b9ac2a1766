from datetime import date, timedelta
from decimal import Decimal

import pytest

from loyalty.analytics import economics
from loyalty.analytics.report import economics_report
from loyalty.services import expire_points, spend_points
from tests.factories import MemberFactory
from tests.helpers import purchase

POINT = Decimal("0.01")


def test_liability_breakage_and_value_per_point_arithmetic():
    owed = economics.liability(available=1300, pending=200, point_value=POINT)
    assert (owed.outstanding, owed.cash) == (1500, Decimal("15.00"))
    months = [
        economics.MonthFlow(date(2026, 1, 1), 1000, 0, 0, 0, 0),
        economics.MonthFlow(date(2026, 2, 1), 500, 0, 300, 0, 0),
    ]
    assert economics.breakage(months) == Decimal("0.2")
    assert [m.month for m in economics.every_month(months[1:], date(2025, 12, 1), 3)] == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert economics.every_month(months[1:], date(2025, 12, 1), 3)[2] == months[1]
    assert economics.breakage([]) is None
    coupon = economics.reward_value(code="c", name="C", units=4, points=1200, unit_cash=Decimal("3"), budget=POINT)
    voucher = economics.reward_value(code="v", name="V", units=1, points=500, unit_cash=Decimal("10"), budget=POINT)
    assert (coupon.cash, coupon.value_per_point, coupon.over_budget) == (Decimal("12.00"), Decimal("0.01"), False)
    assert (voucher.value_per_point, voucher.over_budget) == (Decimal("0.02"), True)
    assert economics.overall_value_per_point([coupon, voucher]) == Decimal("0.0129")  # 22 / 1700


def test_benefit_value_against_the_tiers_spend():
    value = economics.grant_value(coupons=10, coupon_face_value=Decimal("5"), points=300, point_value=POINT)
    assert value == Decimal("53.00")
    month = date(2026, 11, 1)
    cost = economics.benefit_cost(
        month=month, tier_code="gold", grants=5, coupons=10, points=300, value=value, spend=Decimal("1060")
    )
    assert cost.value_to_spend == Decimal("0.05")
    no_spend = economics.benefit_cost(
        month=month, tier_code="gold", grants=5, coupons=10, points=300, value=value, spend=Decimal("0")
    )
    assert no_spend.value_to_spend is None


@pytest.mark.django_db
def test_the_report_sums_the_points_ledger_per_month(program, give_points, as_of):
    first, second = MemberFactory(), MemberFactory()
    purchase(first, "1000", occurred_at=as_of - timedelta(hours=1))
    purchase(second, "500", occurred_at=as_of - timedelta(hours=1))
    give_points(second, 300, expires_at=as_of - timedelta(minutes=1))
    expire_points(member=second, as_of=as_of)
    spend_points(member=first, amount=200, reason="mall", source="test")
    report = economics_report(as_of)
    assert (report.liability.available, report.liability.pending, report.liability.cash) == (1300, 0, Decimal("13.00"))
    assert len(report.months) == 12
    assert sum(m.earned for m in report.months) == 1500
    assert sum(m.spent for m in report.months) == 200
    assert sum(m.expired for m in report.months) == 300
    assert sum(m.adjusted for m in report.months) == 300
    assert report.breakage == Decimal("0.2")
    assert report.target_value_per_point == POINT
