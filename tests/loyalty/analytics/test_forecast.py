import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from loyalty.analytics.forecast import GrowthProgram, Persona, PersonaError, default_personas, forecast, parse_persona

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = date(2026, 1, 1)
LADDER = [("normal", 0), ("bronze", 500), ("silver", 2000)]


@dataclass(frozen=True)
class Rule:
    growth: int = 0
    points: int = 0
    growth_per_unit: Decimal = Decimal(0)
    points_per_unit: Decimal = Decimal(0)
    apply_tier_multiplier: bool = False
    daily_limit: int | None = None
    lifetime_limit: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    is_active: bool = True


def program(rules, *, window=("never", 0), deducts=True, ladder=LADDER) -> GrowthProgram:
    return GrowthProgram(rules, window[0], window[1], deducts, SHANGHAI, ladder)


PURCHASE = {"purchase": [Rule(growth_per_unit=Decimal(1))]}


def test_one_purchase_a_day_reaches_each_tier_on_the_first_day_its_threshold_is_met():
    result = forecast(Persona(Decimal("100")), program(PURCHASE), START)
    assert result.growth_per_day == 100
    assert result.days_to_tier == {"normal": 1, "bronze": 5, "silver": 20}
    assert result.spend_to_tier == {
        "normal": Decimal("100.00"),
        "bronze": Decimal("500.00"),
        "silver": Decimal("2000.00"),
    }


def test_growth_per_unit_rounds_down_per_purchase():
    result = forecast(Persona(Decimal("99.99")), program(PURCHASE), START)
    assert result.growth_per_day == 99
    assert result.days_to_tier["bronze"] == 6  # 5 x 99 = 495
    assert result.spend_to_tier["bronze"] == Decimal("599.94")


def test_daily_and_lifetime_limits_cap_what_a_persona_earns():
    rules = {
        "check_in": [Rule(growth=5, daily_limit=1)],
        "profile_completed": [Rule(growth=50, lifetime_limit=1)],
        "review": [Rule(growth=10, daily_limit=2), Rule(growth=1)],  # two rules: each counts its own limit
    }
    persona = Persona(Decimal(0), {"check_in": 3, "profile_completed": 1, "review": 4})
    result = forecast(persona, program(rules), START)
    assert result.growth_per_day == 5 + 50 + 2 * 10 + 4 * 1
    # From day 2 on: 5 + 20 + 4 = 29 a day; 79 + 29 x 15 = 514 on day 16.
    assert result.days_to_tier["bronze"] == 16
    assert result.spend_to_tier["bronze"] == Decimal("0.00")


def test_deductions_never_take_growth_below_zero_and_one_way_growth_ignores_them():
    rules = {"check_in": [Rule(growth=5)], "complaint": [Rule(growth=-12)]}
    persona = Persona(Decimal(0), {"check_in": 2, "complaint": 1})
    assert forecast(persona, program(rules), START).growth_per_day == 0  # 10 - 12, floored at 0
    assert forecast(persona, program(rules, deducts=False), START).growth_per_day == 10
    persona = Persona(Decimal(0), {"check_in": 5, "complaint": 1})
    assert forecast(persona, program(rules), START).days_to_tier["bronze"] == 39  # 13 a day: 507 on day 39


def test_the_growth_window_caps_the_climb_and_a_tier_out_of_reach_is_never():
    """Rolling one month: growth earned on 1 January stays through 1 February and is gone on the 2nd,
    so at most 32 days of growth are held at once."""
    ladder = [("normal", 0), ("held_32_days", 3200), ("held_33_days", 3300)]
    result = forecast(Persona(Decimal("100")), program(PURCHASE, window=("rolling_months", 1), ladder=ladder), START)
    assert result.days_to_tier == {"normal": 1, "held_32_days": 32, "held_33_days": None}
    assert result.spend_to_tier["held_33_days"] is None


def test_calendar_year_growth_counts_for_the_year_and_the_next():
    ladder = [("normal", 0), ("two_years", 730 * 10), ("more", 731 * 10 + 1)]
    rules = {"check_in": [Rule(growth=10)]}
    persona = Persona(Decimal(0), {"check_in": 1})
    result = forecast(persona, program(rules, window=("calendar_year", 0), ladder=ladder), START)
    assert result.days_to_tier == {"normal": 1, "two_years": 730, "more": None}


def test_a_rule_outside_its_active_window_earns_nothing():
    ends = datetime(2026, 1, 4, tzinfo=SHANGHAI)
    rules = {"check_in": [Rule(growth=200, ends_at=ends)], "login": [Rule(growth=1)]}
    persona = Persona(Decimal(0), {"check_in": 1, "login": 1})
    result = forecast(persona, program(rules), START)
    assert result.days_to_tier["bronze"] == 3  # 3 x 201 = 603; the check-in rule ends on the 4th
    assert result.days_to_tier["silver"] == 1400  # then 1 a day: 603 + 1397 on day 1400


def test_personas_are_parsed_strictly():
    types = frozenset({"check_in", "review", "purchase", "return"})
    persona = parse_persona({"daily_spend": "12.50", "events_per_day": {"check_in": 1, "review": 0}}, types)
    assert persona == Persona(Decimal("12.50"), {"check_in": 1})
    for bad, message in [
        ({"daily_spend": "-1"}, "amount ≥ 0"),
        ({"daily_spend": "1.001"}, "2 decimal places"),
        ({"daily_spend": "lots"}, "amount of money"),
        ({"daily_spend": "1", "extra": 1}, "Unknown persona keys: extra"),
        ({"events_per_day": {"purchase": 1}}, "buys through daily_spend"),
        ({"events_per_day": {"dance": 1}}, "Unknown event type dance"),
        ({"events_per_day": {"review": 1.5}}, "whole number"),
        ({"events_per_day": {"review": True}}, "whole number"),
        ([], "JSON object"),
    ]:
        with pytest.raises(PersonaError, match=message):
            parse_persona(bad, types)


def test_default_personas_come_from_the_rules_limits():
    rules = {
        "purchase": [Rule(growth_per_unit=Decimal(1))],
        "check_in": [Rule(growth=5, daily_limit=1)],
        "review": [Rule(growth=10, daily_limit=5)],
        "profile_completed": [Rule(growth=50, lifetime_limit=1)],
        "points_import": [Rule(points_per_unit=Decimal(1))],  # gives no growth: not a task
        "complaint": [Rule(growth=-50)],  # a deduction: not a task
    }
    everything, some, minimum = default_personas(rules)
    assert everything.events_per_day == {"check_in": 1, "review": 5, "profile_completed": 1}
    assert some.events_per_day == {"check_in": 1, "review": 1, "profile_completed": 1}
    assert minimum.events_per_day == {"check_in": 1, "profile_completed": 1}
    assert everything.daily_spend > some.daily_spend > minimum.daily_spend


PERSONA = '{"daily_spend": "100", "events_per_day": {"check_in": 1, "review": 3}}'


@pytest.mark.django_db
def test_forecast_command_prints_the_json_contract_with_the_live_rules(program, capsys):
    """Default program: 100 a day from purchases + 5 check-in + 3 x 10 reviews = 135 a day."""
    call_command("forecast", "--persona", PERSONA, "--json", "--start", "2026-01-01")
    result = json.loads(capsys.readouterr().out)
    assert result == {
        "growth_per_day": 135,
        "days_to_tier": {"normal": 1, "bronze": 4, "silver": 15, "gold": 45, "platinum": 112, "diamond": 297},
        "spend_to_tier": {
            "normal": "100.00",
            "bronze": "400.00",
            "silver": "1500.00",
            "gold": "4500.00",
            "platinum": "11200.00",
            "diamond": "29700.00",
        },
    }


@pytest.mark.django_db
def test_forecast_command_follows_a_rule_change_and_explains_bad_personas(program, capsys, make_rule):
    make_rule("check_in", code="check-in-bonus", growth=365)
    call_command("forecast", "--persona", PERSONA, "--json", "--start", "2026-01-01")
    assert json.loads(capsys.readouterr().out)["growth_per_day"] == 135 + 365
    call_command("forecast", "--persona", PERSONA)
    assert "diamond" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("forecast", "--persona", "{daily_spend")
    with pytest.raises(CommandError, match="Unknown event type"):
        call_command("forecast", "--persona", '{"events_per_day": {"dance": 1}}')
