"""The per-process configuration cache: every way of changing the configuration reaches the engine."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.config import current_config
from loyalty.models import EarningRule, EventType, ProgramSettings, Tier
from tests.helpers import purchase, record

pytestmark = pytest.mark.django_db


def test_a_rule_changed_by_queryset_update_applies_to_the_next_event(member):
    record(member, "check_in")  # caches the configuration
    EarningRule.objects.filter(event_type="check_in").update(growth=40)
    outcome = record(member, "check_in", occurred_at=member.joined_at.replace(year=2026, month=7))
    assert outcome.event.growth_delta == 40


def test_a_threshold_changed_by_raw_sql_moves_the_next_upgrade(member):
    purchase(member, "100.00")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_tier SET threshold = 150 WHERE code = 'bronze'")
    outcome = purchase(member, "60.00")
    assert outcome.event.tier_after.code == "bronze"


def test_settings_saved_from_a_form_apply_at_once(member, configure_program):
    current_config()
    configure_program(pending_days=5)
    assert current_config().settings.pending_days == 5


def test_a_new_event_type_is_known_at_once(member):
    current_config()
    EventType.objects.create(code="unboxing", name="Unboxing video")
    assert "unboxing" in current_config().event_types


def test_a_deleted_tier_leaves_the_ladder(program):
    current_config()
    Tier.objects.filter(code="diamond").delete()
    assert "diamond" not in [t.code for t in current_config().ladder]


def test_a_rolled_back_change_does_not_stay_cached(member):
    before = current_config().rules_for("check_in")[0].growth
    with transaction.atomic():
        EarningRule.objects.filter(event_type="check_in").update(growth=before + 50)
        assert current_config().rules_for("check_in")[0].growth == before + 50
        transaction.set_rollback(True)
    assert current_config().rules_for("check_in")[0].growth == before


def test_each_change_gives_a_new_version(program):
    versions = {current_config().version}
    for threshold in (600, 700, 600):
        Tier.objects.filter(code="bronze").update(threshold=threshold)
        versions.add(ProgramSettings.objects.get().config_version)
    assert len(versions) == 4


def test_an_unchanged_configuration_is_read_with_one_query(program):
    current_config()
    with CaptureQueriesContext(connection) as queries:
        current_config()
    assert len(queries) == 1
