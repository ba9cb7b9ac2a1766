"""The notification settings in the program file: exported, imported (through the settings'
writer, with its permission), refused by path when wrong."""

from __future__ import annotations

import datetime as dt

import pytest

from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services.program import apply_program
from members.errors import InvalidInput, NotPermitted
from notifications.models import NotificationSettings
from tests.factories import UserFactory
from tests.helpers import staff_with

pytestmark = pytest.mark.django_db

WANTED = {
    "default_language": "en",
    "email": ["tier.upgraded", "coupon.issued"],
    "messages": ["redemption.shipped"],
    "quiet_hours": {"start": "22:30", "end": "07:00"},
    "daily_marketing_cap": 1,
    "at_risk_days": 10,
}


def test_the_section_is_applied_and_exported_as_it_was_given(program):
    changes = apply_program(document=parse_program({"notifications": WANTED}))
    assert "notification settings: daily_marketing_cap 2 -> 1" in changes
    config = NotificationSettings.current()
    assert (config.quiet_hours_start, config.quiet_hours_end) == (dt.time(22, 30), dt.time(7, 0))
    assert export_program()["notifications"] == WANTED
    assert apply_program(document=parse_program({"notifications": WANTED})) == []  # nothing changes twice


def test_no_quiet_hours_is_null(program):
    apply_program(document=parse_program({"notifications": {"quiet_hours": None}}))
    config = NotificationSettings.current()
    assert config.quiet_hours_start == config.quiet_hours_end
    assert export_program()["notifications"]["quiet_hours"] is None


def test_mistakes_are_reported_by_path(program):
    wrong = {
        "default_language": "fr",
        "email": ["tier.upgraded", "birthday.party"],
        "messages": "all",
        "quiet_hours": {"start": "25:00", "end": "7"},
        "daily_marketing_cap": 50,
        "at_risk_days": 0,
        "sms": True,
    }
    with pytest.raises(InvalidInput) as refused:
        parse_program({"notifications": wrong})
    assert set(refused.value.fields) == {
        "notifications.default_language",
        "notifications.email",
        "notifications.messages",
        "notifications.quiet_hours.start",
        "notifications.quiet_hours.end",
        "notifications.daily_marketing_cap",
        "notifications.at_risk_days",
        "notifications.sms",
    }
    assert "birthday.party" in refused.value.fields["notifications.email"][0]


def test_changing_the_section_needs_the_settings_permission(program):
    with pytest.raises(NotPermitted):
        apply_program(document=parse_program({"notifications": WANTED}), actor=UserFactory())
    marketer = staff_with("notifications.change_notificationsettings")
    apply_program(document=parse_program({"notifications": WANTED}), actor=marketer)
    assert NotificationSettings.current().at_risk_days == 10
