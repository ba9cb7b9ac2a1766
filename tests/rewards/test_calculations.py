"""Pure rewards arithmetic, no database."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from rewards import calculations as calc

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SHANGHAI)


def test_value_per_point_and_the_cost_guard():
    assert calc.value_per_point(Decimal("10"), 1000) == Decimal("0.0100")
    assert calc.value_per_point(Decimal("5"), 300) == Decimal("0.0167")
    assert not calc.exceeds_budget(Decimal("10"), 1000, Decimal("0.01"))
    assert calc.exceeds_budget(Decimal("10.01"), 1000, Decimal("0.01"))
    assert not calc.exceeds_budget(Decimal("99"), 1, None)
    with pytest.raises(ValueError):
        calc.value_per_point(Decimal("1"), 0)


def test_cash_value_of_points_rounds_to_cents():
    assert calc.cash_value_of_points(1234, Decimal("0.01")) == Decimal("12.34")
    assert calc.cash_value_of_points(1, Decimal("0.005")) == Decimal("0.01")


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("day", at(2026, 11, 30), at(2026, 12, 1)),
        ("month", at(2026, 11, 1), at(2026, 12, 1)),
        ("year", at(2026, 1, 1), at(2027, 1, 1)),
        ("ever", None, None),
    ],
)
def test_limit_windows_are_program_days_months_and_years(period, start, end):
    # 2026-11-30 17:30 UTC is already 2026-12-01 01:30 in Shanghai: the window follows the program's zone.
    assert calc.limit_window(period, at(2026, 11, 30, 23, 59), SHANGHAI) == (start, end)
    utc_evening = datetime(2026, 11, 30, 17, 30, tzinfo=ZoneInfo("UTC"))
    assert calc.limit_window("month", utc_evening, SHANGHAI) == (at(2026, 12, 1), at(2027, 1, 1))


def test_period_keys_are_local():
    utc_evening = datetime(2026, 12, 31, 17, 0, tzinfo=ZoneInfo("UTC"))  # 2027-01-01 01:00 in Shanghai
    assert calc.month_key(utc_evening, SHANGHAI) == "2027-01"
    assert calc.year_key(utc_evening, SHANGHAI) == "2027"


def test_validity_n_days_from_issue_ends_at_local_midnight():
    terms = calc.ValidityTerms(None, None, valid_days=30, inactive_days=0)
    issued = at(2026, 11, 1, 10)
    assert calc.coupon_validity(terms, issued, SHANGHAI) == (issued, at(2026, 12, 1))


def test_validity_with_inactive_days_starts_at_a_later_midnight():
    terms = calc.ValidityTerms(None, None, valid_days=30, inactive_days=3)
    assert calc.coupon_validity(terms, at(2026, 11, 1, 10), SHANGHAI) == (at(2026, 11, 4), at(2026, 12, 1))


def test_fixed_validity_starts_at_issue_inside_the_window():
    terms = calc.ValidityTerms(at(2026, 11, 11), at(2026, 11, 12), valid_days=None, inactive_days=0)
    assert calc.coupon_validity(terms, at(2026, 11, 1), SHANGHAI) == (at(2026, 11, 11), at(2026, 11, 12))
    assert calc.coupon_validity(terms, at(2026, 11, 11, 9), SHANGHAI) == (at(2026, 11, 11, 9), at(2026, 11, 12))
    with pytest.raises(ValueError):
        calc.coupon_validity(calc.ValidityTerms(None, None, None, 0), at(2026, 11, 1), SHANGHAI)


@pytest.mark.parametrize(
    ("status", "now", "amount", "reason"),
    [
        ("active", at(2026, 11, 5), Decimal("100"), None),
        ("active", at(2026, 11, 5), None, None),
        ("used", at(2026, 11, 5), None, "already_used"),
        ("void", at(2026, 11, 5), None, "void"),
        ("expired", at(2026, 11, 5), None, "expired"),
        ("active", at(2026, 12, 1), None, "expired"),
        ("active", at(2026, 11, 1), None, "not_yet_valid"),
        ("active", at(2026, 11, 5), Decimal("98.99"), "below_minimum_spend"),
    ],
)
def test_why_a_coupon_cannot_be_used(status, now, amount, reason):
    assert (
        calc.coupon_unusable_reason(
            status=status,
            valid_from=at(2026, 11, 2),
            valid_until=at(2026, 12, 1),
            now=now,
            min_spend=Decimal("99"),
            order_amount=amount,
        )
        == reason
    )


def test_fulfilment_moves_forward_only_and_cancels_before_shipping():
    assert calc.can_move("pending", "shipped") and calc.can_move("shipped", "delivered")
    assert calc.can_move("pending", "cancelled") and calc.can_move("completed", "cancelled")
    assert not calc.can_move("shipped", "cancelled")
    assert not calc.can_move("delivered", "shipped")
    assert not calc.can_move("cancelled", "pending")


def test_generated_codes_avoid_ambiguous_characters():
    codes = {calc.new_coupon_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == 12 and not set(code) & set("01OIL") for code in codes)
    assert calc.new_coupon_code(lambda n: 0) == "2" * 12


def test_limit_window_rejects_unknown_periods():
    with pytest.raises(ValueError):
        calc.limit_window("week", at(2026, 1, 1) + timedelta(0), SHANGHAI)
