import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from loyalty.analytics import csv_export
from loyalty.analytics.report import ReportOptions, build_report
from loyalty.models import Tier


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_cells_that_a_spreadsheet_would_run_as_formulas_get_an_apostrophe():
    text = csv_export.to_csv(["name", "n"], [["=HYPERLINK(1)", -5], ["+1", 3], ["-x", 0], ["@sum", None], ["ok", 1]])
    assert rows(text) == [
        ["name", "n"],
        ["'=HYPERLINK(1)", "-5"],  # a number stays a number
        ["'+1", "3"],
        ["'-x", "0"],
        ["'@sum", ""],
        ["ok", "1"],
    ]


@pytest.mark.django_db
def test_every_report_has_a_csv_and_operator_text_in_it_is_escaped(tiers):
    Tier.objects.filter(code="gold").update(name="=cmd|'/c calc'!A1")
    report = build_report(ReportOptions())
    distribution = rows(csv_export.distribution_csv(report.distribution))
    assert distribution[0] == ["tier", "name", "threshold", "members", "share"]
    assert distribution[4][1] == "'=cmd|'/c calc'!A1"
    assert rows(csv_export.calibration_csv(report.calibration))[1][0] == "normal"
    assert len(rows(csv_export.rfm_csv(report.rfm))) == 5
    assert len(rows(csv_export.weights_csv(report.weights))) == 1 + 6 * len(report.weights.matrix.rules)
    assert len(rows(csv_export.forecast_csv(report.forecast))) == 1 + 3 * 6
    assert rows(csv_export.economics_csv(report.economics))[0][0] == "month"
    assert rows(csv_export.benefits_csv(report.economics)) == [
        ["month", "tier", "grants", "coupons", "points", "value", "tier_spend", "value_to_spend"]
    ]


@pytest.mark.django_db
def test_program_report_prints_every_section_as_text_and_json(rfm_population, capsys):
    call_command("program_report")
    text = capsys.readouterr().out
    for heading in (
        "1. Tier distribution",
        "2. Threshold calibration",
        "3. RFM quadrants",
        "4. Weight completion",
        "5. Time to tier",
        "6. Points economics",
    ):
        assert heading in text
    call_command("program_report", "--json", "--targets", "50/20/10/10/5/5", "--rfm-cut", "1,40")
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["as_of", "distribution", "calibration", "rfm", "weights", "forecast", "economics"]
    assert data["distribution"]["total"] == 6
    assert [t["target_share"] for t in data["calibration"]["tiers"]] == ["0.5", "0.2", "0.1", "0.1", "0.05", "0.05"]
    assert data["rfm"]["cut"] == {"frequency": "1.00", "monetary": "40.00", "source": "operator"}
    assert set(data["forecast"]["personas"][0]["forecast"]) == {"growth_per_day", "days_to_tier", "spend_to_tier"}
    assert data["economics"]["liability"]["outstanding"] > 0


@pytest.mark.django_db
def test_program_report_refuses_bad_options(program):
    with pytest.raises(CommandError, match="one target share per tier"):
        call_command("program_report", "--targets", "50/50")
    with pytest.raises(CommandError, match="FREQUENCY,MONETARY"):
        call_command("program_report", "--rfm-cut", "lots")
    with pytest.raises(CommandError, match="offset"):
        call_command("program_report", "--as-of", "2026-01-01T00:00")
