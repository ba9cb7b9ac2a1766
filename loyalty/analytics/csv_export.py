"""One CSV download per report, as text, for the admin pages. Spreadsheet programs run a cell that
starts with = + - @ as a formula; such cells get a leading apostrophe (tier and rule names are
operator text). Numbers are written as numbers, so a negative one is not a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from .distribution import Distribution
from .report import CalibrationReport, EconomicsReport, ForecastReport, RFMReport, WeightsReport

FORMULA_STARTS = ("=", "+", "-", "@")


def cell(value) -> str | int | Decimal:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: list[str], rows: Iterable[Iterable]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(name) for name in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def distribution_csv(report: Distribution) -> str:
    return to_csv(
        ["tier", "name", "threshold", "members", "share"],
        ([t.code, t.name, t.threshold, t.members, t.share] for t in report.tiers),
    )


def calibration_csv(report: CalibrationReport) -> str:
    return to_csv(
        [
            "tier",
            "target_share",
            "current_threshold",
            "current_share",
            "exact_threshold",
            "proposed_threshold",
            "proposed_share",
        ],
        (
            [
                t.code,
                t.target_share,
                t.current_threshold,
                t.current_share,
                t.exact_threshold,
                t.proposed_threshold,
                t.proposed_share,
            ]
            for t in report.tiers
        ),
    )


def rfm_csv(report: RFMReport) -> str:
    codes = list(report.quadrants[0].tier_mix) if report.quadrants else []
    return to_csv(
        [
            "quadrant",
            "members",
            "share",
            "average_growth",
            "average_frequency",
            "average_monetary",
            "average_recency_days",
            *(f"share_{code}" for code in codes),
        ],
        (
            [
                q.key,
                q.members,
                q.share,
                q.average_growth,
                q.average_frequency,
                q.average_monetary,
                q.average_recency_days,
                *(q.tier_mix[code] for code in codes),
            ]
            for q in report.quadrants
        ),
    )


def weights_csv(report: WeightsReport) -> str:
    matrix = report.matrix
    columns = {rule.code: rule for rule in matrix.rules}
    return to_csv(
        ["tier", "tier_members", "rule", "members", "share", "average_growth", "rule_unused", "rule_flat"],
        (
            [
                tier,
                tier_members,
                rule,
                entry.members,
                entry.share,
                entry.average_growth,
                columns[rule].unused,
                columns[rule].flat,
            ]
            for tier, tier_members in ((code, members) for code, _name, members in matrix.tiers)
            for rule in columns
            for entry in [matrix.cells[(tier, rule)]]
        ),
    )


def forecast_csv(report: ForecastReport) -> str:
    rows = []
    for persona in report.personas:
        result = persona.forecast
        for code, days in result["days_to_tier"].items():
            rows.append(
                [
                    persona.name,
                    result["growth_per_day"],
                    code,
                    days,
                    result["spend_to_tier"][code],
                    report.observed_median_days.get(code),
                ]
            )
    return to_csv(["persona", "growth_day_1", "tier", "days", "spend", "observed_median_days"], rows)


def economics_csv(report: EconomicsReport) -> str:
    return to_csv(
        ["month", "earned", "spent", "expired", "deducted", "adjusted"],
        ([f"{m.month:%Y-%m}", m.earned, m.spent, m.expired, m.deducted, m.adjusted] for m in report.months),
    )


def benefits_csv(report: EconomicsReport) -> str:
    return to_csv(
        ["month", "tier", "grants", "coupons", "points", "value", "tier_spend", "value_to_spend"],
        (
            [f"{b.month:%Y-%m}", b.tier_code, b.grants, b.coupons, b.points, b.value, b.spend, b.value_to_spend]
            for b in report.benefits
        ),
    )
