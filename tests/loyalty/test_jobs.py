"""The scheduled jobs (release pending points, expire points, expire growth, recalculate tiers): what
each does at its boundaries, the periods runs belong to, idempotency, resuming a failed run, the
`run_job` and `setup_schedules` commands, and (on PostgreSQL) jobs racing storefront writes."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from loyalty.audit import audit
from loyalty.models import GrowthEntry, JobChunk, JobRun, PointsEntry, Tier, TierChange
from loyalty.services import adjust_growth, bulk, change_tier_manually, recalculate_member_tier, spend_points
from loyalty.services.jobs import chunk_ranges, period_key, run_job_now
from members.errors import InvalidInput
from members.models import Member
from members.services import freeze_member
from tests.helpers import UTC, ledger_counts, local, purchase
from tests.jobs_helpers import balances, database_state, expire_entries

pytestmark = pytest.mark.django_db

# 2027-03-02 00:00 in Shanghai: a local midnight, where expiries fall.
AS_OF = datetime(2027, 3, 1, 16, 0, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
DONE = JobRun.Status.DONE
FAILED = JobRun.Status.FAILED


@pytest.fixture
def member_at(make_member, give_growth, user):
    """member_at(earned, growth=None): a member upgraded by earning `earned` growth, who then lost
    growth down to `growth` (the tier stays until the recalculation)."""

    def make(earned: int, growth: int | None = None) -> Member:
        member = make_member()
        if earned:
            give_growth(member, earned)
        if growth is not None and growth < earned:
            adjust_growth(member=member, amount=growth - earned, reason="test: growth fell", actor=user)
        member.refresh_from_db()
        return member

    return make


def lower_threshold(code: str, threshold: int) -> None:
    """Operators change the ladder: members who now qualify are upgraded by the next recalculation."""
    Tier.objects.filter(code=code).update(threshold=threshold)


def pending_lot(member: Member, configure_program, pending_days: int = 7) -> PointsEntry:
    """A purchase an hour ago whose 100 points stay pending for the return window."""
    configure_program(pending_days=pending_days)
    outcome = purchase(member, "100", occurred_at=timezone.now() - timedelta(hours=1))
    lot = PointsEntry.objects.get(event=outcome.event)
    assert lot.released_at is None and Member.objects.get(pk=member.pk).points_pending == 100
    return lot


# --- expire_points ----------------------------------------------------------------------------------


def test_points_lot_expiring_exactly_at_as_of_expires(member, give_points):
    lot = give_points(member, 100, expires_at=AS_OF)

    run = run_job_now(job="expire_points", as_of=AS_OF)

    assert run.status == DONE
    assert balances(member) == (0, 0, 0)
    expire = PointsEntry.objects.get(kind="expire")
    assert (expire.member_id, expire.amount, expire.expired_lot_id, expire.created_at) == (
        member.pk,
        -100,
        lot.pk,
        AS_OF,
    )
    lot.refresh_from_db()
    assert lot.remaining == 0
    assert audit() == []


def test_points_lot_expiring_a_microsecond_after_as_of_is_kept(member, give_points):
    lot = give_points(member, 100, expires_at=AS_OF + MICROSECOND)

    run = run_job_now(job="expire_points", as_of=AS_OF)

    assert (run.status, run.entries_written) == (DONE, 0)
    assert not expire_entries(PointsEntry).exists()
    lot.refresh_from_db()
    assert lot.remaining == 100
    assert balances(member) == (0, 100, 0)


def test_only_the_remainder_of_a_partly_spent_lot_expires(member, give_points):
    lot = give_points(member, 100, expires_at=AS_OF)
    spend_points(member=member, amount=30, reason="coupon", source="shop")

    run_job_now(job="expire_points", as_of=AS_OF)

    assert expire_entries(PointsEntry, member).get().amount == -70
    lot.refresh_from_db()
    assert lot.remaining == 0
    assert balances(member) == (0, 0, 0)
    assert audit() == []


def test_lots_that_never_expire_are_kept(member, give_points, configure_program):
    configure_program(points_expiry_policy="never")
    lot = give_points(member, 100)
    assert lot.expires_at is None

    run_job_now(job="expire_points", as_of=AS_OF + timedelta(days=365 * 50))

    assert not expire_entries(PointsEntry).exists()
    assert balances(member) == (0, 100, 0)


def test_a_lot_expiring_while_still_pending_leaves_the_pending_balance(member, configure_program):
    lot = pending_lot(member, configure_program)

    run_job_now(job="expire_points", as_of=lot.expires_at)

    assert expire_entries(PointsEntry, member).get().amount == -100
    assert balances(member)[1:] == (0, 0)
    assert audit() == []


def test_expiry_applies_to_frozen_members(member, give_points):
    give_points(member, 100, expires_at=AS_OF)
    freeze_member(member=member)

    run_job_now(job="expire_points", as_of=AS_OF)

    assert balances(member) == (0, 0, 0)
    assert audit() == []


def test_expire_points_counts_members_and_entries(make_member, give_points):
    first, second, untouched = make_member(), make_member(), make_member()
    give_points(first, 100, expires_at=AS_OF)
    give_points(first, 50, expires_at=AS_OF - timedelta(days=3))
    give_points(second, 70, expires_at=AS_OF)
    give_points(untouched, 10, expires_at=AS_OF + timedelta(days=1))

    run = run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)

    assert (run.chunks_total, run.chunks_done, run.members_changed, run.entries_written) == (2, 2, 2, 3)
    assert [balances(m)[1] for m in (first, second, untouched)] == [0, 0, 10]
    assert audit() == []


# --- release_pending_points -------------------------------------------------------------------------


def test_pending_lot_available_exactly_at_as_of_is_released(member, configure_program):
    lot = pending_lot(member, configure_program)

    run = run_job_now(job="release_pending_points", as_of=lot.available_at)

    assert run.status == DONE
    lot.refresh_from_db()
    assert lot.released_at == lot.available_at
    assert balances(member) == (100, 100, 0)
    assert audit() == []


def test_pending_lot_available_a_microsecond_after_as_of_stays_pending(member, configure_program):
    lot = pending_lot(member, configure_program)

    run_job_now(job="release_pending_points", as_of=lot.available_at - MICROSECOND)

    lot.refresh_from_db()
    assert lot.released_at is None
    assert balances(member) == (100, 0, 100)


def test_released_points_can_be_spent(member, configure_program):
    lot = pending_lot(member, configure_program)
    run_job_now(job="release_pending_points", as_of=lot.available_at)

    spend_points(member=member, amount=100, reason="coupon", source="shop")

    assert balances(member) == (100, 0, 0)
    assert audit() == []


# --- expire_growth ----------------------------------------------------------------------------------


def test_growth_lot_leaving_its_window_exactly_at_as_of_expires(member, give_growth):
    give_growth(member, 100)
    lot = GrowthEntry.objects.get(member=member)

    run_job_now(job="expire_growth", as_of=lot.expires_at)

    expire = expire_entries(GrowthEntry, member).get()
    assert (expire.amount, expire.expired_lot_id, expire.created_at) == (-100, lot.pk, lot.expires_at)
    assert balances(member) == (0, 0, 0)
    assert audit() == []


def test_growth_lot_leaving_its_window_a_microsecond_after_as_of_is_kept(member, give_growth):
    give_growth(member, 100)
    lot = GrowthEntry.objects.get(member=member)

    run_job_now(job="expire_growth", as_of=lot.expires_at - MICROSECOND)

    assert not expire_entries(GrowthEntry).exists()
    assert balances(member) == (100, 0, 0)


def test_growth_expiry_leaves_the_tier_to_the_recalculation(member_at, tiers):
    member = member_at(2500)
    lot = GrowthEntry.objects.get(member=member)

    run_job_now(job="expire_growth", as_of=lot.expires_at)

    member.refresh_from_db()
    assert (member.growth_value, member.tier) == (0, tiers["silver"])
    assert not TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION).exists()
    assert audit() == []


def test_only_the_remainder_of_a_partly_deducted_growth_lot_expires(member_at):
    member = member_at(600, 450)
    lot = GrowthEntry.objects.get(member=member, kind="adjust", amount=600)

    run_job_now(job="expire_growth", as_of=lot.expires_at)

    assert expire_entries(GrowthEntry, member).get().amount == -450
    assert balances(member) == (0, 0, 0)
    assert audit() == []


# --- recalculate_tiers ------------------------------------------------------------------------------


def test_recalculation_records_each_change_with_the_runs_period_and_as_of(member_at, tiers, configure_program):
    configure_program(downgrade_policy="to_qualifying")
    member = member_at(6500, 600)

    run = run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert (member.tier, member.tier_since) == (tiers["bronze"], AS_OF)
    change = TierChange.objects.get(reason=TierChange.Reason.RECALCULATION)
    assert (change.member, change.from_tier, change.to_tier, change.period, change.created_at, change.growth_value) == (
        member,
        tiers["gold"],
        tiers["bronze"],
        "2027-03",
        AS_OF,
        600,
    )
    assert (change.event, change.actor) == (None, None)
    assert (run.period, run.members_changed, run.entries_written) == ("2027-03", 1, 1)
    assert audit() == []


@pytest.mark.parametrize(
    ("growth", "expected"),
    [(2000, "silver"), (1999, "bronze")],
    ids=["exactly-at-threshold", "one-below"],
)
def test_downgrade_to_qualifying_tier_counts_a_growth_equal_to_the_threshold(
    member_at, tiers, configure_program, growth, expected
):
    configure_program(downgrade_policy="to_qualifying")
    member = member_at(6500, growth)

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers[expected]


@pytest.mark.parametrize(
    ("growth", "expected"),
    [(1500, "silver"), (1499, "bronze")],
    ids=["exactly-at-threshold", "one-below"],
)
def test_a_lowered_threshold_upgrades_members_who_reach_it(member_at, tiers, growth, expected):
    member = member_at(growth)
    assert member.tier == tiers["bronze"]
    lower_threshold("silver", 1500)

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers[expected]
    assert TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION).count() == (expected == "silver")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("never", "platinum"), ("one_tier", "gold"), ("to_qualifying", "bronze")],
)
def test_downgrade_policies(member_at, tiers, configure_program, policy, expected):
    configure_program(downgrade_policy=policy)
    member = member_at(15000, 600)  # platinum by earning, bronze by growth now

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers[expected]
    changes = TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION)
    assert [(c.from_tier.code, c.to_tier.code) for c in changes] == (
        [] if policy == "never" else [("platinum", expected)]
    )
    assert audit() == []


@pytest.mark.parametrize("policy", ["never", "one_tier", "to_qualifying"])
def test_missed_upgrades_are_applied_under_every_policy(member_at, tiers, configure_program, policy):
    configure_program(downgrade_policy=policy)
    member = member_at(7000)  # gold
    lower_threshold("platinum", 7000)

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers["platinum"]
    change = TierChange.objects.get(reason=TierChange.Reason.RECALCULATION)
    assert (change.from_tier, change.to_tier) == (tiers["gold"], tiers["platinum"])


def test_a_missed_upgrade_of_several_tiers_is_applied_at_once(member_at, tiers, user, configure_program):
    configure_program(downgrade_policy="one_tier")
    member = member_at(7000)
    change_tier_manually(member=member, tier=tiers["normal"], actor=user, reason="test: lost upgrades")

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers["gold"]


def test_one_tier_policy_drops_another_tier_in_the_next_period(member_at, tiers, configure_program):
    configure_program(downgrade_policy="one_tier")
    member = member_at(15000, 600)

    run_job_now(job="recalculate_tiers", as_of=AS_OF)
    run_job_now(job="recalculate_tiers", as_of=AS_OF + timedelta(days=31))

    member.refresh_from_db()
    assert member.tier == tiers["silver"]
    assert list(
        TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION)
        .order_by("pk")
        .values_list("to_tier__code", "period")
    ) == [("gold", "2027-03"), ("silver", "2027-04")]


def test_members_at_their_qualifying_tier_are_left_alone(member_at, configure_program):
    configure_program(downgrade_policy="to_qualifying")
    members = [member_at(0), member_at(600), member_at(2000), member_at(6500)]
    before = database_state()["members"]

    run = run_job_now(job="recalculate_tiers", as_of=AS_OF, chunk_size=2)

    assert (run.status, run.members_changed, run.entries_written) == (DONE, 0, 0)
    assert database_state()["members"] == before
    assert len(members) == Member.objects.count()
    assert not TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION).exists()


def test_recalculation_across_chunks_moves_each_member_once(member_at, tiers, configure_program):
    configure_program(downgrade_policy="one_tier")
    members = {
        "fallen_platinum": member_at(15000, 0),
        "steady_gold": member_at(6500),
        "missed_silver": member_at(1600),
        "normal": member_at(0),
        "fallen_bronze": member_at(700, 100),
    }
    lower_threshold("silver", 1500)

    run = run_job_now(job="recalculate_tiers", as_of=AS_OF, chunk_size=2)

    assert (run.chunks_total, run.members_changed, run.entries_written) == (3, 3, 3)
    expected = {
        "fallen_platinum": "gold",
        "steady_gold": "gold",
        "missed_silver": "silver",
        "normal": "normal",
        "fallen_bronze": "normal",
    }
    assert {name: Member.objects.get(pk=m.pk).tier.code for name, m in members.items()} == expected
    assert audit() == []


def test_recalculation_leaves_balances_alone(member_at, configure_program):
    configure_program(downgrade_policy="to_qualifying")
    member = member_at(6500, 600)

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    assert balances(member) == (600, 0, 0)


# --- periods ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "as_of", "period"),
    [
        # 2026-11-30T17:00Z is 2026-12-01 01:00 in Shanghai.
        ("recalculate_tiers", datetime(2026, 11, 30, 17, 0, tzinfo=UTC), "2026-12"),
        ("recalculate_tiers", datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC), "2026-11"),
        ("expire_points", datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "2026-12-01"),
        ("expire_points", datetime(2026, 11, 30, 15, 59, 59, 999999, tzinfo=UTC), "2026-11-30"),
        ("expire_growth", datetime(2026, 11, 30, 17, 0, tzinfo=UTC), "2026-12-01"),
        ("release_pending_points", datetime(2026, 11, 30, 17, 0, tzinfo=UTC), "2026-12-01T01"),
        ("release_pending_points", datetime(2026, 11, 30, 17, 59, 59, tzinfo=UTC), "2026-12-01T01"),
        ("release_pending_points", local(2026, 12, 1, 2), "2026-12-01T02"),
    ],
)
def test_period_keys_are_in_the_program_time_zone(program, job, as_of, period):
    assert period_key(job, as_of) == period


def test_a_run_records_its_period_and_as_of(member_at, configure_program):
    configure_program(downgrade_policy="to_qualifying")
    member_at(6500, 600)
    as_of = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)

    run = run_job_now(job="recalculate_tiers", as_of=as_of)

    assert (run.job, run.period, run.as_of) == ("recalculate_tiers", "2026-12", as_of)
    change = TierChange.objects.get(reason=TierChange.Reason.RECALCULATION)
    assert (change.period, change.created_at) == ("2026-12", as_of)


def test_unknown_job_is_refused(program):
    with pytest.raises(InvalidInput):
        run_job_now(job="expire_everything", as_of=AS_OF)
    assert not JobRun.objects.exists()


# --- chunks -----------------------------------------------------------------------------------------


def test_chunk_ranges_cover_every_member_once(make_member):
    members = [make_member() for _ in range(7)]
    Member.objects.filter(pk=members[3].pk).delete()  # a gap in the ids
    ids = sorted(Member.objects.values_list("pk", flat=True))

    ranges = chunk_ranges(2)

    assert len(ranges) == 3
    covered = [[pk for pk in ids if first <= pk <= last] for first, last in ranges]
    assert [len(c) for c in covered] == [2, 2, 2]
    assert sorted(pk for c in covered for pk in c) == ids
    assert all(a_last < b_first for (_, a_last), (b_first, _) in zip(ranges, ranges[1:], strict=False))


def test_a_run_without_members_is_done(program):
    run = run_job_now(job="expire_points", as_of=AS_OF)
    assert (run.status, run.chunks_total) == (DONE, 0)


# --- idempotency ------------------------------------------------------------------------------------


@pytest.fixture
def expiring_population(make_member, give_points, give_growth, member_at, configure_program):
    """Seven members with something for every job to do at AS_OF."""
    configure_program(downgrade_policy="to_qualifying")
    members = []
    for i in range(7):
        member = member_at(2500, 600) if i % 2 else make_member()
        give_points(member, 100 + i, expires_at=AS_OF - timedelta(days=i))
        give_points(member, 10, expires_at=AS_OF + timedelta(days=30))
        members.append(member)
    return members


@pytest.mark.parametrize("job", ["release_pending_points", "expire_points", "expire_growth", "recalculate_tiers"])
def test_running_a_job_twice_in_one_period_writes_nothing_the_second_time(expiring_population, job):
    first = run_job_now(job=job, as_of=AS_OF, chunk_size=2)
    before = database_state()

    second = run_job_now(job=job, as_of=AS_OF, chunk_size=2)

    assert second.pk == first.pk
    assert second.status == DONE
    assert JobRun.objects.count() == 1
    after = database_state()
    for table in ("members", "points", "growth", "points_allocations", "growth_allocations", "tier_changes"):
        assert after[table] == before[table], table
    assert after["job_chunks"] == before["job_chunks"], "chunks already done are not attempted again"
    assert audit() == []


def test_running_expiry_twice_expires_each_lot_once(expiring_population):
    run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)
    run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)

    assert expire_entries(PointsEntry).count() == 7
    assert [balances(m)[1] for m in expiring_population] == [10] * 7


def test_a_finished_run_is_left_as_it_was(expiring_population):
    first = run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)

    again = run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)

    assert (again.status, again.finished_at, again.error) == (DONE, first.finished_at, "")
    assert JobRun.objects.get().finished_at == first.finished_at


def test_a_later_as_of_in_the_same_period_resumes_the_run_with_its_stored_as_of(member, give_points):
    give_points(member, 100, expires_at=AS_OF)
    later_lot = give_points(member, 40, expires_at=AS_OF + timedelta(hours=5))  # same Shanghai day
    first = run_job_now(job="expire_points", as_of=AS_OF)

    second = run_job_now(job="expire_points", as_of=AS_OF + timedelta(hours=6))

    assert (second.pk, second.as_of, second.period) == (first.pk, AS_OF, "2027-03-02")
    later_lot.refresh_from_db()
    assert later_lot.remaining == 40
    assert balances(member) == (0, 40, 0)


def test_the_next_period_is_a_new_run(member, give_points):
    give_points(member, 100, expires_at=AS_OF)
    give_points(member, 40, expires_at=AS_OF + timedelta(days=1))
    first = run_job_now(job="expire_points", as_of=AS_OF)

    second = run_job_now(job="expire_points", as_of=AS_OF + timedelta(days=1))

    assert second.pk != first.pk
    assert (second.period, second.entries_written) == ("2027-03-03", 1)
    assert balances(member) == (0, 0, 0)


def test_a_member_recalculated_on_their_own_is_not_changed_again_by_the_job(member_at, tiers, configure_program):
    configure_program(downgrade_policy="one_tier")
    member = member_at(15000, 0)
    recalculate_member_tier(member=member, period="2027-03", as_of=AS_OF - timedelta(hours=1))

    run = run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers["gold"]
    assert TierChange.objects.filter(member=member, reason=TierChange.Reason.RECALCULATION).count() == 1
    assert (run.members_changed, run.entries_written) == (0, 0)
    assert audit() == []


def test_the_job_leaves_alone_a_manual_change_made_after_the_periods_recalculation(
    member_at, tiers, user, configure_program
):
    """A member recalculated for the period (same as_of as the run), then put back by staff: the job
    must neither record a second change nor move the member without recording one."""
    configure_program(downgrade_policy="one_tier")
    member = member_at(15000, 0)
    recalculate_member_tier(member=member, period="2027-03", as_of=AS_OF)  # platinum -> gold
    change_tier_manually(member=member, tier=tiers["platinum"], actor=user, reason="test: goodwill")

    run_job_now(job="recalculate_tiers", as_of=AS_OF)

    member.refresh_from_db()
    assert member.tier == tiers["platinum"]
    assert TierChange.objects.filter(member=member).order_by("-pk").first().reason == TierChange.Reason.MANUAL
    assert audit() == []


# --- resuming a failed run --------------------------------------------------------------------------


@pytest.fixture
def failing_chunk(monkeypatch):
    """fail(first_id): make bulk.expire_points do its work for the chunk starting at first_id and then
    raise, so the chunk's transaction must roll back. Returns a function that restores the original."""
    original = bulk.expire_points

    def fail(first_member_id: int):
        def expire_points(first_id, last_id, as_of):
            result = original(first_id, last_id, as_of)
            if first_id == first_member_id:
                raise RuntimeError("disk on fire")
            return result

        monkeypatch.setattr(bulk, "expire_points", expire_points)
        return lambda: monkeypatch.setattr(bulk, "expire_points", original)

    return fail


def test_a_failed_chunk_fails_the_run_and_keeps_the_other_chunks_work(expiring_population, failing_chunk):
    ranges = chunk_ranges(2)
    assert len(ranges) == 4
    bad_first, bad_last = ranges[1]
    failing_chunk(bad_first)

    run = run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)

    assert run.status == FAILED
    assert run.chunks_done == 3
    assert "1 of 4 chunks not done" in run.error and "RuntimeError: disk on fire" in run.error
    bad = JobChunk.objects.get(run=run, first_member_id=bad_first)
    assert (bad.done, bad.attempts, bad.error) == (False, 1, "RuntimeError: disk on fire")
    assert all(c.done and c.error == "" for c in JobChunk.objects.filter(run=run).exclude(pk=bad.pk))
    for member in expiring_population:
        in_bad_chunk = bad_first <= member.pk <= bad_last
        assert expire_entries(PointsEntry, member).exists() != in_bad_chunk
        assert balances(member)[1] == (110 + expiring_population.index(member) if in_bad_chunk else 10)
    assert audit() == []


def test_running_a_failed_job_again_finishes_it_applying_everything_once(expiring_population, failing_chunk):
    bad_first, _ = chunk_ranges(2)[1]
    restore = failing_chunk(bad_first)
    failed = run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)
    assert failed.status == FAILED
    restore()

    run = run_job_now(job="expire_points", as_of=AS_OF + timedelta(hours=1), chunk_size=2)

    assert (run.pk, run.status, run.error, run.as_of) == (failed.pk, DONE, "", AS_OF)
    assert (run.chunks_done, run.chunks_total, run.members_changed, run.entries_written) == (4, 4, 7, 7)
    bad = JobChunk.objects.get(run=run, first_member_id=bad_first)
    assert (bad.done, bad.attempts, bad.error) == (True, 2, "")
    assert expire_entries(PointsEntry).count() == 7
    assert all(expire_entries(PointsEntry, member).count() == 1 for member in expiring_population)
    assert [balances(m)[1] for m in expiring_population] == [10] * 7
    assert audit() == []


# --- run_job command --------------------------------------------------------------------------------


def run_command(*args) -> str:
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def test_run_job_sync_runs_the_job_as_of_the_given_moment(member, give_points):
    give_points(member, 100, expires_at=AS_OF)

    output = run_command("expire_points", "--sync", "--as-of", "2027-03-02T00:00+08:00")

    assert "expire_points 2027-03-02: done; 1/1 chunks, 1 members changed, 1 entries written." in output
    run = JobRun.objects.get()
    assert run.as_of == AS_OF
    assert balances(member) == (0, 0, 0)


def test_run_job_chunk_size_option_splits_the_run(expiring_population):
    output = run_command("expire_points", "--sync", "--chunk-size", "3", "--as-of", "2027-03-02T00:00+08:00")

    assert "done; 3/3 chunks, 7 members changed, 7 entries written." in output


def test_chunk_size_defaults_to_the_setting(expiring_population, settings):
    settings.LOYALTY_JOB_CHUNK_SIZE = 2

    run = run_job_now(job="expire_points", as_of=AS_OF)

    assert (run.chunks_total, run.chunks_done) == (4, 4)


def test_run_job_reports_a_failed_run(member, give_points, failing_chunk):
    give_points(member, 100, expires_at=AS_OF)
    failing_chunk(member.pk)

    with pytest.raises(CommandError, match="disk on fire"):
        run_command("expire_points", "--sync", "--as-of", "2027-03-02T00:00+08:00")

    assert JobRun.objects.get().status == FAILED
    assert balances(member) == (0, 100, 0)


@pytest.mark.parametrize("as_of", ["2027-03-02T00:00", "2027-03-02", "tomorrow"])
def test_run_job_refuses_an_as_of_without_offset(program, as_of):
    with pytest.raises(CommandError, match="offset"):
        run_command("expire_points", "--sync", "--as-of", as_of)
    assert not JobRun.objects.exists()


def assert_dry_run_wrote_nothing(before_counts, before_state):
    assert ledger_counts() == before_counts
    assert database_state() == before_state
    assert not JobRun.objects.exists()


def test_dry_run_of_expiry_prints_what_would_expire_and_writes_nothing(make_member, give_points):
    first, second = make_member(), make_member()
    give_points(first, 100, expires_at=AS_OF)
    give_points(first, 20, expires_at=AS_OF - timedelta(days=1))
    give_points(second, 5, expires_at=AS_OF)
    give_points(second, 999, expires_at=AS_OF + MICROSECOND)
    counts, state = ledger_counts(), database_state()

    output = run_command("expire_points", "--dry-run", "--as-of", "2027-03-02T00:00+08:00")

    assert "125 points in 3 lots of 2 members would expire." in output
    assert "Dry run: nothing was written." in output
    assert_dry_run_wrote_nothing(counts, state)


def test_dry_run_of_growth_expiry(member_at):
    member = member_at(600)
    lot = GrowthEntry.objects.get(member=member)
    counts, state = ledger_counts(), database_state()

    output = run_command("expire_growth", "--dry-run", "--as-of", lot.expires_at.isoformat())

    assert "600 growth value in 1 lot of 1 members would expire." in output
    assert_dry_run_wrote_nothing(counts, state)


def test_dry_run_of_release_prints_the_points_that_would_become_available(member, configure_program):
    lot = pending_lot(member, configure_program)
    counts, state = ledger_counts(), database_state()

    output = run_command("release_pending_points", "--dry-run", "--as-of", lot.available_at.isoformat())

    assert "100 pending points of 1 members would become available." in output
    assert_dry_run_wrote_nothing(counts, state)


def test_dry_run_of_recalculation_prints_tier_moves(member_at, configure_program):
    configure_program(downgrade_policy="one_tier")
    for _ in range(3):
        member_at(6500)  # gold, platinum once the threshold is lowered
    member_at(6000)  # stays gold
    member_at(15000, 100)  # platinum falling to gold (one tier)
    lower_threshold("platinum", 6500)
    counts, state = ledger_counts(), database_state()

    output = run_command("recalculate_tiers", "--dry-run", "--as-of", "2027-03-01T04:00+08:00")

    assert "3 members would move from 黄金 Gold to 白金 Platinum." in output
    assert "1 members would move from 白金 Platinum to 黄金 Gold." in output
    assert_dry_run_wrote_nothing(counts, state)


def test_dry_run_of_recalculation_when_nobody_moves(member_at):
    member_at(600)

    output = run_command("recalculate_tiers", "--dry-run", "--as-of", "2027-03-01T04:00+08:00")

    assert "No member would change tier." in output


def test_dry_run_after_the_periods_recalculation_reports_no_moves(member_at, configure_program):
    """Running the job again in a period it is done for changes nothing, so the dry run must say so
    (under one_tier a fallen member still 'qualifies' for lower, but gets one step per period)."""
    configure_program(downgrade_policy="one_tier")
    member_at(15000, 0)
    run_command("recalculate_tiers", "--sync", "--as-of", "2027-03-01T04:00+08:00")

    output = run_command("recalculate_tiers", "--dry-run", "--as-of", "2027-03-15T04:00+08:00")
    run_command("recalculate_tiers", "--sync", "--as-of", "2027-03-15T04:00+08:00")

    assert TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION).count() == 1
    assert "would move" not in output, output


def test_dry_run_of_expiry_in_a_period_whose_run_is_done_reports_nothing(member, give_points):
    """run_job in a period whose run is done writes nothing (it resumes the run with its stored as_of),
    so a dry run with a later as_of of that period must not announce expiries."""
    give_points(member, 100, expires_at=AS_OF)
    give_points(member, 40, expires_at=AS_OF + timedelta(hours=5))  # same Shanghai day
    run_command("expire_points", "--sync", "--as-of", "2027-03-02T00:00+08:00")

    output = run_command("expire_points", "--dry-run", "--as-of", "2027-03-02T06:00+08:00")
    run_command("expire_points", "--sync", "--as-of", "2027-03-02T06:00+08:00")

    assert balances(member) == (0, 40, 0)
    assert not re.search(r"\b[1-9]\d* points", output), output


def test_dry_run_of_a_failed_run_previews_what_resuming_it_would_do(expiring_population, failing_chunk, give_points):
    bad_first, bad_last = chunk_ranges(2)[1]
    restore = failing_chunk(bad_first)
    run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)
    restore()
    left = [m for m in expiring_population if bad_first <= m.pk <= bad_last]
    assert len(left) == 2
    left_points = sum(balances(m)[1] - 10 for m in left)
    give_points(left[0], 7, expires_at=AS_OF + timedelta(hours=5))

    # Later the same day in Shanghai: resuming uses the run's as_of, so the 7 points expiring after it
    # stay out, and so do the lots the finished chunks already expired.
    output = run_command("expire_points", "--dry-run", "--as-of", "2027-03-02T23:00+08:00")

    assert f"{left_points} points in 2 lots of 2 members would expire." in output
    assert JobRun.objects.get().status == FAILED


# --- setup_schedules --------------------------------------------------------------------------------


def test_setup_schedules_is_idempotent(program):
    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())

    tasks = PeriodicTask.objects.filter(name__startswith="loyalty: ").order_by("name")
    assert [t.name for t in tasks] == [
        "loyalty: campaign_date_triggers",
        "loyalty: campaign_grants",
        "loyalty: expire_coupons",
        "loyalty: expire_growth",
        "loyalty: expire_points",
        "loyalty: issue_benefits",
        "loyalty: issue_birthday_gifts",
        "loyalty: notify_coupons_expiring",
        "loyalty: notify_points_expiring",
        "loyalty: notify_tier_at_risk",
        "loyalty: recalculate_tiers",
        "loyalty: refresh_segments",
        "loyalty: release_expired_holds",
        "loyalty: release_pending_points",
        "loyalty: store_member_rfm",
        "loyalty: store_report_summaries",
    ]
    # the jobs, the dashboard refresh, the outbox relay and prune, segments, webhooks: send and prune,
    # notifications: send and prune
    assert PeriodicTask.objects.count() == 24
    assert CrontabSchedule.objects.count() == 15  # the two daily notices share 10:00
    notify = PeriodicTask.objects.get(name="notifications: send due notifications")
    assert (notify.task, notify.interval.every, notify.interval.period) == (
        "notifications.send_notifications",
        10,
        "seconds",
    )
    sends = PeriodicTask.objects.get(name="webhooks: send due deliveries")
    assert (sends.task, sends.interval.every, sends.interval.period) == ("webhooks.send_deliveries", 5, "seconds")
    refresh = PeriodicTask.objects.get(name="dashboard: refresh figures")
    assert (refresh.task, refresh.interval.every, refresh.interval.period) == (
        "loyalty.refresh_dashboard",
        5,
        "minutes",
    )
    relay = PeriodicTask.objects.get(name="outbox: relay domain events")
    assert (relay.task, relay.interval.every, relay.interval.period) == ("loyalty.relay_outbox", 5, "seconds")
    prune = PeriodicTask.objects.get(name="outbox: prune delivered events")
    assert (prune.task, prune.crontab.hour, prune.crontab.minute) == ("loyalty.prune_outbox", "2", "30")
    assert str(prune.crontab.timezone) == "Asia/Shanghai"
    for task in tasks:
        job = task.name.removeprefix("loyalty: ")
        assert task.task == "loyalty.run_scheduled_job"
        assert task.args == f'["{job}"]'
        assert task.enabled
        assert str(task.crontab.timezone) == "Asia/Shanghai"
    crontabs = {t.name.removeprefix("loyalty: "): t.crontab for t in tasks}
    assert (crontabs["release_pending_points"].minute, crontabs["release_pending_points"].hour) == ("5", "*")
    assert (crontabs["expire_points"].minute, crontabs["expire_points"].hour) == ("0", "3")
    assert (crontabs["expire_growth"].minute, crontabs["expire_growth"].hour) == ("30", "3")
    recalculation = crontabs["recalculate_tiers"]
    assert (recalculation.minute, recalculation.hour, recalculation.day_of_month) == ("0", "4", "1")


def test_setup_schedules_keeps_schedules_edited_in_the_admin(program):
    call_command("setup_schedules", stdout=StringIO())
    task = PeriodicTask.objects.get(name="loyalty: expire_points")
    task.enabled = False
    task.save()

    call_command("setup_schedules", stdout=StringIO())

    assert PeriodicTask.objects.get(name="loyalty: expire_points").enabled is False
    assert PeriodicTask.objects.count() == 24


# --- concurrency (PostgreSQL) -----------------------------------------------------------------------


def postgres_threads(test):
    """Real threads with their own connections: only meaningful on PostgreSQL (SQLite serialises
    writers on the whole file)."""
    marks = [
        pytest.mark.postgres,
        pytest.mark.skipif(
            connection.vendor != "postgresql",
            reason="concurrency tests need PostgreSQL (row locks and concurrent writers); set DATABASE_URL",
        ),
        pytest.mark.django_db(transaction=True),
    ]
    for mark in marks:
        test = mark(test)
    return test


def in_threads(*works) -> list:
    """Run each work() in its own thread, released together; returns ("ok", value) or ("error", exc)."""
    barrier = threading.Barrier(len(works))
    results: list = [None] * len(works)

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = ("ok", works[i]())
        except Exception as exc:  # the test inspects what each thread got
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    errors = [value for kind, value in results if kind == "error"]
    assert not errors, f"unexpected errors: {errors!r}"
    return [value for _, value in results]


@postgres_threads
@pytest.mark.parametrize("attempt", range(3))
def test_expiry_racing_spends_never_overdraws(make_member, give_points, attempt):
    now = timezone.now()
    members = [make_member() for _ in range(6)]
    for member in members:
        give_points(member, 100, expires_at=now - timedelta(hours=1))  # overdue: expired by whoever comes first
        give_points(member, 100, expires_at=now + timedelta(days=30))

    def spend(member):
        return lambda: spend_points(member=member, amount=100, reason="coupon", source="shop").amount

    results = in_threads(
        lambda: run_job_now(job="expire_points", as_of=now).status, *(spend(member) for member in members)
    )

    assert results == [DONE] + [-100] * len(members)
    for member in members:
        assert balances(member) == (0, 0, 0)
        assert expire_entries(PointsEntry, member).count() == 1
    assert not Member.objects.filter(points_available__lt=0).exists()
    assert audit() == []


@postgres_threads
def test_the_same_job_started_twice_at_once_applies_once(expiring_population):
    runs = in_threads(*[lambda: run_job_now(job="expire_points", as_of=AS_OF, chunk_size=2)] * 4)

    assert {run.pk for run in runs} == {JobRun.objects.get().pk}
    assert {run.status for run in runs} == {DONE}
    run = JobRun.objects.get()
    assert (run.chunks_done, run.entries_written) == (4, 7)
    assert expire_entries(PointsEntry).count() == 7
    assert [balances(m)[1] for m in expiring_population] == [10] * 7
    assert audit() == []


@postgres_threads
@pytest.mark.parametrize("attempt", range(3))
def test_recalculation_racing_an_upgrading_purchase_keeps_the_tier_history_consistent(
    member_at, tiers, configure_program, attempt
):
    configure_program(downgrade_policy="to_qualifying")
    members = [member_at(6500, 100) for _ in range(4)]  # gold by earning, normal by growth

    def buy(member):
        return lambda: purchase(member, "6000", occurred_at=timezone.now() - timedelta(minutes=1)).applied

    results = in_threads(
        lambda: run_job_now(job="recalculate_tiers", as_of=AS_OF).status, *(buy(member) for member in members)
    )

    assert results == [DONE] + [True] * len(members)
    for member in members:
        member.refresh_from_db()
        assert (member.growth_value, member.tier) == (6100, tiers["gold"])
    assert audit() == []
