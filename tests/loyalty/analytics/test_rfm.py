from decimal import Decimal

import pytest

from loyalty.analytics import rfm
from loyalty.analytics.report import ReportOptions, rfm_report
from loyalty.analytics.rfm import QuadrantCell, quadrants

pytestmark = pytest.mark.django_db


def by_key(report):
    return {q.key: q for q in report.quadrants}


def test_quadrants_cut_at_the_medians(rfm_population, as_of):
    report = rfm_report(ReportOptions(), as_of)
    assert report.cut == rfm.Cut(Decimal("1.00"), Decimal("40.00"), "median")
    quadrant = by_key(report)
    assert {key: q.members for key, q in quadrant.items()} == {
        rfm.HIGH_SPEND_HIGH_FREQUENCY: 1,  # a
        rfm.HIGH_SPEND_LOW_FREQUENCY: 2,  # b, f
        rfm.LOW_SPEND_HIGH_FREQUENCY: 1,  # c
        rfm.LOW_SPEND_LOW_FREQUENCY: 2,  # d, e
    }
    high_low = quadrant[rfm.HIGH_SPEND_LOW_FREQUENCY]
    assert high_low.share == Decimal("0.3333")
    assert high_low.average_growth == Decimal("280.00")  # b 500, f 100 - 40 reversed = 60
    assert high_low.average_monetary == Decimal("280.00")
    assert high_low.average_frequency == Decimal("1.00")
    assert high_low.average_recency_days == Decimal("12.50")  # 20 and 5 days
    assert high_low.tier_mix["bronze"] == Decimal("0.5") and high_low.tier_mix["normal"] == Decimal("0.5")
    assert quadrant[rfm.LOW_SPEND_LOW_FREQUENCY].average_recency_days is None  # nobody bought in the window
    assert quadrant[rfm.LOW_SPEND_LOW_FREQUENCY].average_growth == Decimal("100.00")  # e kept its 200


def test_the_operator_can_cut_elsewhere(rfm_population, as_of):
    options = ReportOptions(rfm_cut_frequency=Decimal(0), rfm_cut_monetary=Decimal(100))
    report = rfm_report(options, as_of)
    assert report.cut == rfm.Cut(Decimal("0.00"), Decimal("100.00"), "operator")
    assert {key: q.members for key, q in by_key(report).items()} == {
        rfm.HIGH_SPEND_HIGH_FREQUENCY: 2,  # a, b
        rfm.HIGH_SPEND_LOW_FREQUENCY: 0,
        rfm.LOW_SPEND_HIGH_FREQUENCY: 2,  # c, f
        rfm.LOW_SPEND_LOW_FREQUENCY: 2,
    }


def test_a_shorter_window_counts_less(rfm_population, as_of):
    report = rfm_report(ReportOptions(rfm_window_days=25), as_of)
    quadrant = by_key(report)
    # In 25 days: a 1 x 100, b 500, f 60; c, d, e nothing. F 0,0,0,1,1,1 -> median 0.5; M 0,0,0,60,100,500 -> 30.
    assert report.cut == rfm.Cut(Decimal("0.50"), Decimal("30.00"), "median")
    assert quadrant[rfm.HIGH_SPEND_HIGH_FREQUENCY].members == 3
    assert quadrant[rfm.LOW_SPEND_LOW_FREQUENCY].members == 3


def test_no_members_gives_empty_quadrants(program, as_of):
    report = rfm_report(ReportOptions(), as_of)
    assert [q.members for q in report.quadrants] == [0, 0, 0, 0]


def test_quadrant_sums_become_averages_without_a_database():
    cells = [
        QuadrantCell(rfm.HIGH_SPEND_HIGH_FREQUENCY, "gold", 2, 900, 10, Decimal("1000.00"), 8, 2),
        QuadrantCell(rfm.HIGH_SPEND_HIGH_FREQUENCY, "normal", 1, 0, 3, Decimal("200.00"), 40, 1),
    ]
    top = quadrants(cells, ["normal", "gold"])[0]
    assert (top.members, top.share, top.average_growth) == (3, Decimal("1"), Decimal("300.00"))
    assert (top.average_frequency, top.average_monetary, top.average_recency_days) == (
        Decimal("4.33"),
        Decimal("400.00"),
        Decimal("16.00"),
    )
    assert top.tier_mix == {"normal": Decimal("0.3333"), "gold": Decimal("0.6667")}
