"""Recording events: rules, limits, multipliers, upgrades, deductions, idempotency and bad input."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.errors import DuplicateOrder, IdempotencyConflict, UnknownEventType
from loyalty.models import Event, GrowthEntry, PointsEntry, RuleHit, TierChange
from loyalty.services import record_event
from members.errors import InvalidInput, MemberNotFound
from tests.helpers import DAY, UTC, assert_ledger_consistent, ledger_counts, local, purchase, record

pytestmark = pytest.mark.django_db


# --- earning ----------------------------------------------------------------------------------------


def test_check_in_earns_the_rule_values(member):
    outcome = record(member, "check_in")
    member.refresh_from_db()
    assert outcome.applied is True
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (5, 2)
    assert (member.growth_value, member.points_available, member.points_pending) == (5, 2, 0)


def test_earning_writes_one_lot_per_ledger_linked_to_event_and_rule(member):
    outcome = record(member, "check_in")
    growth = GrowthEntry.objects.get(event=outcome.event)
    points = PointsEntry.objects.get(event=outcome.event)
    assert (growth.kind, growth.amount, growth.remaining, growth.rule.code) == ("earn", 5, 5, "check_in")
    assert (points.kind, points.amount, points.remaining, points.rule.code) == ("earn", 2, 2, "check_in")
    assert_ledger_consistent(member)


def test_purchase_earns_per_yuan_rounded_down(member):
    outcome = purchase(member, "99.99")
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (99, 99)


def test_every_matching_active_rule_applies(member, make_rule):
    make_rule("check_in", code="check-in-bonus", growth=3, points=1)
    outcome = record(member, "check_in")
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (8, 3)
    assert RuleHit.objects.filter(event=outcome.event).count() == 2


def test_inactive_rule_does_not_apply(member, make_rule, task_type):
    make_rule(task_type, growth=10, is_active=False)
    assert record(member, task_type.code).event.growth_delta == 0


def test_rule_applies_from_its_start(member, make_rule, task_type):
    make_rule(task_type, growth=10, starts_at=local(2026, 6, 1), ends_at=local(2026, 7, 1))
    assert record(member, task_type.code, occurred_at=local(2026, 5, 31, 23, 59, 59)).event.growth_delta == 0
    assert record(member, task_type.code, occurred_at=local(2026, 6, 1)).event.growth_delta == 10


def test_rule_stops_applying_at_its_end(member, make_rule, task_type):
    make_rule(task_type, growth=10, starts_at=local(2026, 6, 1), ends_at=local(2026, 7, 1))
    assert record(member, task_type.code, occurred_at=local(2026, 6, 30, 23, 59, 59)).event.growth_delta == 10
    assert record(member, task_type.code, occurred_at=local(2026, 7, 1)).event.growth_delta == 0


def test_rule_window_is_judged_on_occurred_at_not_on_arrival(member, make_rule, task_type):
    make_rule(task_type, growth=10, ends_at=local(2026, 7, 1))
    # Arrives today (after the campaign ended) but happened during it.
    assert record(member, task_type.code, occurred_at=local(2026, 6, 15)).event.growth_delta == 10


def test_purchase_lots_expire_per_the_program_settings(member):
    outcome = purchase(member, "100", occurred_at=local(2026, 1, 15, 14, 0))
    assert GrowthEntry.objects.get(event=outcome.event).expires_at == local(2027, 1, 16)
    assert PointsEntry.objects.get(event=outcome.event).expires_at == local(2027, 1, 16)


def test_points_expiry_policy_applies_to_earned_points(member, configure_program):
    configure_program(points_expiry_policy="calendar_year")
    outcome = purchase(member, "100", occurred_at=local(2026, 5, 10, 9))
    assert PointsEntry.objects.get(event=outcome.event).expires_at == local(2028, 1, 1)


def test_points_that_never_expire_have_no_expiry(member, configure_program):
    configure_program(points_expiry_policy="never", growth_window_policy="never")
    outcome = purchase(member, "100")
    assert PointsEntry.objects.get(event=outcome.event).expires_at is None
    assert GrowthEntry.objects.get(event=outcome.event).expires_at is None


def test_purchase_updates_the_behaviour_summary(member):
    purchase(member, "80.50", occurred_at=local(2026, 6, 1, 10))
    purchase(member, "19.50", occurred_at=local(2026, 6, 2, 10))
    member.refresh_from_db()
    assert member.purchase_count == 2
    assert member.purchase_amount == Decimal("100.00")
    assert member.last_purchase_at == local(2026, 6, 2, 10)


# --- limits -----------------------------------------------------------------------------------------


def test_second_check_in_on_the_same_day_earns_nothing(member):
    record(member, "check_in", occurred_at=local(2026, 3, 10, 9))
    capped = record(member, "check_in", occurred_at=local(2026, 3, 10, 18))
    member.refresh_from_db()
    assert (capped.event.growth_delta, capped.event.points_delta) == (0, 0)
    assert member.growth_value == 5


def test_capped_event_is_recorded_without_ledger_entries(member):
    record(member, "check_in", occurred_at=local(2026, 3, 10, 9))
    capped = record(member, "check_in", occurred_at=local(2026, 3, 10, 18))
    assert capped.applied is True
    assert Event.objects.filter(pk=capped.event.pk).exists()
    assert not GrowthEntry.objects.filter(event=capped.event).exists()
    assert not PointsEntry.objects.filter(event=capped.event).exists()


def test_check_ins_either_side_of_local_midnight_both_count(member):
    before = record(member, "check_in", occurred_at=local(2026, 3, 10, 23, 59))
    after = record(member, "check_in", occurred_at=local(2026, 3, 11, 0, 1))
    assert (before.event.growth_delta, after.event.growth_delta) == (5, 5)


def test_check_ins_on_one_local_day_but_different_utc_dates_hit_the_limit(member):
    # 07:00 Shanghai is 23:00 UTC the day before; 09:00 Shanghai is 01:00 UTC the same day.
    first = record(member, "check_in", occurred_at=local(2026, 3, 11, 7, 0))
    second = record(member, "check_in", occurred_at=local(2026, 3, 11, 9, 0))
    assert (first.event.growth_delta, second.event.growth_delta) == (5, 0)


def test_the_day_of_a_limit_follows_the_program_time_zone(member, configure_program):
    configure_program(timezone="UTC")
    first = record(member, "check_in", occurred_at=local(2026, 3, 11, 7, 0))
    second = record(member, "check_in", occurred_at=local(2026, 3, 11, 9, 0))
    assert (first.event.growth_delta, second.event.growth_delta) == (5, 5)


def test_daily_limit_counts_up_to_its_value(member):
    deltas = [record(member, "review", occurred_at=local(2026, 3, 10, 8 + i)).event.growth_delta for i in range(6)]
    assert deltas == [10, 10, 10, 10, 10, 0]


def test_lifetime_limit_holds_across_days(member):
    first = record(member, "profile_completed", occurred_at=local(2026, 3, 10, 9))
    again = record(member, "profile_completed", occurred_at=local(2026, 4, 20, 9))
    assert (first.event.growth_delta, first.event.points_delta) == (50, 100)
    assert (again.event.growth_delta, again.event.points_delta) == (0, 0)


def test_limits_are_per_member(make_member):
    one, two = make_member(), make_member()
    record(one, "check_in", occurred_at=local(2026, 3, 10, 9))
    assert record(two, "check_in", occurred_at=local(2026, 3, 10, 9)).event.growth_delta == 5


# --- tier multiplier --------------------------------------------------------------------------------


def test_purchase_points_use_the_tier_multiplier(member, give_growth):
    give_growth(member, 2000)  # silver, x1.1
    outcome = purchase(member, "100")
    assert (outcome.event.growth_delta, outcome.event.points_delta) == (100, 110)


def test_multiplied_points_round_down(member, give_growth):
    give_growth(member, 2000)  # silver, x1.1: 99.99 x 1.1 = 109.989
    assert purchase(member, "99.99").event.points_delta == 109


def test_multiplier_is_that_of_the_tier_held_before_the_event(member, give_growth, tiers):
    give_growth(member, 1990)  # bronze, x1; the purchase lifts the member to silver (x1.1)
    outcome = purchase(member, "100")
    assert outcome.event.tier_after == tiers["silver"]
    assert outcome.event.points_delta == 100


def test_rules_without_the_multiplier_flag_ignore_the_tier(member, give_growth):
    give_growth(member, 40000)  # diamond, x2
    assert record(member, "check_in").event.points_delta == 2


# --- upgrades ---------------------------------------------------------------------------------------


def test_reaching_a_threshold_exactly_upgrades_at_once(member, give_growth, tiers):
    give_growth(member, 495)
    outcome = record(member, "check_in")  # +5 -> 500
    member.refresh_from_db()
    assert member.tier == tiers["bronze"]
    assert outcome.event.tier_changed is True
    assert outcome.event.tier_after == tiers["bronze"]


def test_one_below_a_threshold_does_not_upgrade(member, give_growth, tiers):
    give_growth(member, 494)
    outcome = record(member, "check_in")  # +5 -> 499
    member.refresh_from_db()
    assert member.tier == tiers["normal"]
    assert outcome.event.tier_changed is False


def test_upgrade_is_recorded_as_a_tier_change_of_the_event(member, tiers):
    outcome = purchase(member, "500", occurred_at=local(2026, 6, 1, 10))
    change = TierChange.objects.get(member=member, reason=TierChange.Reason.UPGRADE)
    assert (change.from_tier, change.to_tier, change.event) == (tiers["normal"], tiers["bronze"], outcome.event)
    assert change.growth_value == 500


def test_an_event_crossing_several_thresholds_goes_straight_to_the_highest(member, tiers):
    purchase(member, "6000")
    member.refresh_from_db()
    assert member.tier == tiers["gold"]
    assert TierChange.objects.filter(member=member, reason=TierChange.Reason.UPGRADE).count() == 1


# --- deductions -------------------------------------------------------------------------------------


def test_complaint_deducts_growth(member, give_growth):
    give_growth(member, 300)
    outcome = record(member, "complaint")
    member.refresh_from_db()
    assert member.growth_value == 250
    assert outcome.event.growth_delta == -50
    assert GrowthEntry.objects.get(event=outcome.event).kind == GrowthEntry.Kind.DEDUCT
    assert_ledger_consistent(member)


def test_deduction_never_takes_growth_below_zero(member, give_growth):
    give_growth(member, 30)
    outcome = record(member, "complaint")
    member.refresh_from_db()
    assert member.growth_value == 0
    assert outcome.event.growth_delta == -30
    assert_ledger_consistent(member)


def test_deduction_with_no_growth_writes_no_entry(member):
    outcome = record(member, "complaint")
    assert outcome.event.growth_delta == 0
    assert not GrowthEntry.objects.filter(event=outcome.event).exists()


def test_deduction_never_downgrades_immediately(member, give_growth, tiers):
    give_growth(member, 520)  # bronze
    outcome = record(member, "complaint")  # 470, below bronze's 500
    member.refresh_from_db()
    assert member.growth_value == 470
    assert member.tier == tiers["bronze"]
    assert outcome.event.tier_changed is False


def test_one_way_growth_ignores_deductions(member, give_growth, configure_program):
    configure_program(growth_mode="one_way")
    give_growth(member, 300)
    record(member, "complaint")
    member.refresh_from_db()
    assert member.growth_value == 300


def test_violation_deducts_points_but_never_below_zero(member, give_points):
    give_points(member, 120)
    outcome = record(member, "violation")
    member.refresh_from_db()
    assert member.points_available == 0
    assert outcome.event.points_delta == -120
    assert_ledger_consistent(member)


# --- idempotency ------------------------------------------------------------------------------------


def test_replay_returns_the_first_result_and_writes_nothing(member):
    first = record(member, "check_in", event_id="evt-A")
    before = ledger_counts()
    replay = record(member, "check_in", event_id="evt-A")
    member.refresh_from_db()
    assert replay.applied is False
    assert replay.event.pk == first.event.pk
    assert (replay.event.growth_delta, replay.event.points_delta) == (5, 2)
    assert ledger_counts() == before
    assert member.growth_value == 5


def test_replay_of_a_purchase_is_not_a_duplicate_order(member):
    first = purchase(member, "100", order_id="o-1", event_id="evt-A")
    replay = purchase(member, "100", order_id="o-1", event_id="evt-A")
    assert replay.applied is False
    assert replay.event.pk == first.event.pk


def test_replay_with_an_equivalent_body_is_still_a_replay(member):
    purchase(member, "100", order_id="o-1", event_id="evt-A", occurred_at=local(2026, 6, 1, 12))
    replay = purchase(
        member, Decimal("100.00"), order_id="o-1", event_id="evt-A", occurred_at=datetime(2026, 6, 1, 4, tzinfo=UTC)
    )
    assert replay.applied is False


def test_same_event_id_with_a_different_body_is_a_conflict(member):
    purchase(member, "100", order_id="o-1", event_id="evt-A")
    before = ledger_counts()
    with pytest.raises(IdempotencyConflict):
        purchase(member, "120", order_id="o-1", event_id="evt-A")
    assert ledger_counts() == before


def test_event_ids_are_scoped_per_source(member):
    web = record(member, "review", event_id="42", source="web")
    app = record(member, "review", event_id="42", source="app")
    member.refresh_from_db()
    assert web.applied and app.applied
    assert web.event.pk != app.event.pk
    assert member.growth_value == 20


# --- bad input writes nothing -----------------------------------------------------------------------


@pytest.fixture
def nothing_written(member):
    """Asserts after the test body that no engine row was written and the balances did not move."""
    before = ledger_counts()
    yield
    member.refresh_from_db()
    assert ledger_counts() == before
    assert (member.growth_value, member.points_available, member.points_pending) == (0, 0, 0)


def test_unknown_member_is_refused(member, nothing_written):
    with pytest.raises(MemberNotFound):
        record_event(source="shop", event_id="e1", member="ghost", event_type="check_in", occurred_at=DAY)


def test_unknown_event_type_is_refused(member, nothing_written):
    with pytest.raises(UnknownEventType):
        record(member, "teleport")


def test_negative_purchase_amount_is_refused(member, nothing_written):
    with pytest.raises(InvalidInput) as exc:
        purchase(member, "-10")
    assert "amount" in exc.value.fields


def test_zero_purchase_amount_is_refused(member, nothing_written):
    with pytest.raises(InvalidInput) as exc:
        purchase(member, "0")
    assert "amount" in exc.value.fields


def test_purchase_without_order_id_is_refused(member, nothing_written):
    with pytest.raises(InvalidInput) as exc:
        record(member, "purchase", amount="10")
    assert "order_id" in exc.value.fields


def test_event_more_than_five_minutes_in_the_future_is_refused(member, nothing_written):
    with pytest.raises(InvalidInput) as exc:
        record(member, "check_in", occurred_at=timezone.now() + timedelta(minutes=6))
    assert "occurred_at" in exc.value.fields


def test_naive_occurred_at_is_refused(member, nothing_written):
    with pytest.raises(InvalidInput) as exc:
        record(member, "check_in", occurred_at=datetime(2026, 6, 1, 12, 0))
    assert "occurred_at" in exc.value.fields


def test_naive_occurred_at_text_is_refused(member, nothing_written):
    with pytest.raises(InvalidInput) as exc:
        record(member, "check_in", occurred_at="2026-06-01T12:00:00")
    assert "occurred_at" in exc.value.fields


def test_occurred_at_as_iso_text_with_an_offset_is_accepted(member):
    outcome = record(member, "check_in", occurred_at="2026-03-10T23:59:00+08:00")
    assert outcome.event.occurred_at == local(2026, 3, 10, 23, 59)
    assert outcome.event.growth_delta == 5


def test_event_a_little_in_the_future_is_accepted(member):
    outcome = record(member, "check_in", occurred_at=timezone.now() + timedelta(minutes=4))
    assert outcome.event.growth_delta == 5


def test_duplicate_purchase_order_is_refused(member):
    purchase(member, "100", order_id="o-1")
    before = ledger_counts()
    with pytest.raises(DuplicateOrder):
        purchase(member, "100", order_id="o-1")
    member.refresh_from_db()
    assert ledger_counts() == before
    assert member.growth_value == 100
