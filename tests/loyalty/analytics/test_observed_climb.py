from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from loyalty.analytics.report import forecast_report
from loyalty.models import TierChange
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def joined(days_ago: int, as_of):
    return MemberFactory(joined_at=as_of - timedelta(days=days_ago))


def test_median_days_from_joining_to_each_tier_count_skipped_tiers_as_reached(tiers, give_growth, as_of):
    give_growth(joined(30, as_of), 600)  # bronze after 30 days
    give_growth(joined(10, as_of), 2500)  # straight to silver after 10 days: bronze too
    late = give_growth(joined(50, as_of), 600)  # bronze after 50 days ...
    give_growth(late, 2000)  # ... then silver
    TierChange.objects.filter(member=late, to_tier=tiers["silver"]).update(created_at=as_of + timedelta(days=4))
    joined(5, as_of)  # never left normal
    report = forecast_report(None, as_of)
    assert report.observed_median_days["bronze"] == Decimal("30.0")  # 10, 30, 50
    assert report.observed_members["bronze"] == 3
    assert report.observed_median_days["silver"] == Decimal("32.0")  # 10 and 54
    assert report.observed_median_days["gold"] is None and report.observed_members["gold"] == 0
    assert "normal" not in report.observed_median_days


def test_the_report_forecasts_the_three_default_personas_from_day_one(program, as_of):
    report = forecast_report(None, as_of)
    assert [p.name for p in report.personas] == ["A: does everything", "B: does some", "C: does the minimum"]
    growth = [p.forecast["growth_per_day"] for p in report.personas]
    assert growth[0] > growth[1] > growth[2] > 0
    assert all(p.forecast["days_to_tier"]["normal"] == 1 for p in report.personas)


def test_the_worked_example_program_imports_and_its_personas_climb_as_documented(program):
    """docs/examples/platform-a.json and the days to 钻石 that docs/seed-method.md quotes."""
    call_command("program", "import", str(Path(__file__).parents[3] / "docs" / "examples" / "platform-a.json"))
    report = forecast_report(None, datetime.combine(date(2026, 11, 26), time(12), tzinfo=ZoneInfo("Asia/Shanghai")))
    assert [(p.name, p.forecast["days_to_tier"]["diamond"]) for p in report.personas] == [
        ("A: does everything", 71),
        ("B: does some", 331),
        ("C: does the minimum", None),
    ]
