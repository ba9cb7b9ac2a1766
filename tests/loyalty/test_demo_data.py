"""The demo data generator: realistic, deterministic, and consistent with the engine's invariants."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Max, OuterRef, Subquery, Sum

from loyalty.calculations import qualifying_tier
from loyalty.demo import generate_demo_data
from loyalty.models import (
    Event,
    GrowthAllocation,
    GrowthEntry,
    PointsAllocation,
    PointsEntry,
    ProgramSettings,
    RuleHit,
    Tier,
    TierChange,
)
from loyalty.services.event_input import EventInput
from loyalty.services.jobs import run_job_now
from members.models import Member
from tests.helpers import ensure_default_program

AS_OF = datetime(2026, 6, 1, 4, 30, tzinfo=UTC)


@pytest.fixture
def default_program(db) -> ProgramSettings:
    """A fresh install's program (a transactional test elsewhere may have flushed it)."""
    ensure_default_program()
    return ProgramSettings.current()


def _sum(queryset, field: str = "amount") -> int:
    return queryset.aggregate(total=Sum(field))["total"] or 0


def _per_member(queryset, field: str = "amount") -> dict[int, int]:
    return dict(queryset.order_by().values("member").annotate(total=Sum(field)).values_list("member", "total"))


def assert_invariants() -> None:
    """What loyalty_audit checks, computed here with ORM aggregates."""
    members = list(Member.objects.all())
    growth_sum = _per_member(GrowthEntry.objects.all())
    growth_lots = _per_member(GrowthEntry.objects.filter(amount__gt=0), "remaining")
    points_sum = _per_member(PointsEntry.objects.all())
    released = _per_member(PointsEntry.objects.filter(amount__gt=0, released_at__isnull=False), "remaining")
    pending = _per_member(PointsEntry.objects.filter(amount__gt=0, released_at__isnull=True), "remaining")
    for member in members:
        assert member.growth_value == growth_sum.get(member.pk, 0) == growth_lots.get(member.pk, 0), member
        assert member.points_available == released.get(member.pk, 0), member
        assert member.points_pending == pending.get(member.pk, 0), member
        assert member.points_available + member.points_pending == points_sum.get(member.pk, 0), member
        assert min(member.growth_value, member.points_available, member.points_pending) >= 0, member

    for entry_model, allocation_model in ((GrowthEntry, GrowthAllocation), (PointsEntry, PointsAllocation)):
        # A lot is consumed by debits (allocations) and by at most one expire entry (without allocations).
        taken_from = dict(
            allocation_model.objects.order_by().values("lot").annotate(t=Sum("amount")).values_list("lot", "t")
        )
        expired = dict(entry_model.objects.filter(kind="expire").values_list("expired_lot", "amount"))
        for pk, amount, remaining in entry_model.objects.filter(amount__gt=0).values_list("pk", "amount", "remaining"):
            assert 0 <= remaining <= amount
            consumed = taken_from.get(pk, 0) - expired.get(pk, 0)
            assert amount - remaining == consumed, f"{entry_model.__name__} lot {pk}"
        covered = dict(
            allocation_model.objects.order_by().values("debit").annotate(t=Sum("amount")).values_list("debit", "t")
        )
        debits = entry_model.objects.filter(amount__lt=0).exclude(kind="expire")
        for pk, amount in debits.values_list("pk", "amount"):
            assert -amount == covered.get(pk), f"{entry_model.__name__} debit {pk}"

    latest_change = TierChange.objects.filter(member=OuterRef("pk")).order_by("-created_at", "-id")
    drifted = Member.objects.annotate(history=Subquery(latest_change.values("to_tier")[:1])).exclude(tier=F("history"))
    assert not drifted.exists()


def test_generates_realistic_members_and_histories(default_program):
    summary = generate_demo_data(members=60, seed=11, as_of=AS_OF)

    assert summary.members == Member.objects.count() == 60
    assert summary.rows[Event] == Event.objects.count() > 0
    event_types = set(Event.objects.values_list("event_type", flat=True))
    assert {"purchase", "return", "check_in", "login", "review", "profile_completed"} <= event_types
    assert PointsEntry.objects.filter(kind=PointsEntry.Kind.SPEND, source="demo").exists()
    assert GrowthEntry.objects.filter(kind=GrowthEntry.Kind.REVERSE).exists()
    assert Member.objects.filter(referrer__isnull=False).exists()
    assert Member.objects.filter(last_activity_at__lt=AS_OF - timedelta(days=90)).exists(), "no dormant members"
    assert Member.objects.exclude(tier__rank=0).exists()
    assert Event.objects.values("source", "event_id").distinct().count() == Event.objects.count()
    # The nightly expiries ran as time passed, at their beat times in the program's zone (03:00 and
    # 03:30); a spend also expires the lots that came due since, as spend_points does.
    zone = default_program.zone
    spend_times = set(PointsEntry.objects.filter(kind="spend").values_list("member", "created_at"))
    for model, job_time in ((PointsEntry, time(3, 0)), (GrowthEntry, time(3, 30))):
        expiries = list(model.objects.filter(kind="expire").values_list("member", "created_at"))
        assert expiries, f"no {model.__name__} lot expired in two years"
        for member, at in expiries:
            assert at.astimezone(zone).time() == job_time or (member, at) in spend_times
    # Every lot due by the history's last night is empty; only what came due after it is left.
    last_night = datetime.combine(AS_OF.astimezone(zone).date() - timedelta(days=1), time(3, 0), tzinfo=zone)
    for model in (PointsEntry, GrowthEntry):
        assert not model.objects.filter(amount__gt=0, remaining__gt=0, expires_at__lte=last_night).exists()
    # Tiers were recalculated on the 1st of each month, under the downgrade policy.
    recalculated = TierChange.objects.filter(reason=TierChange.Reason.RECALCULATION)
    assert recalculated.filter(to_tier__rank__lt=F("from_tier__rank")).exists()
    for period, at in recalculated.values_list("period", "created_at"):
        local = at.astimezone(zone)
        assert (local.day, local.time(), period) == (1, time(4, 0), local.strftime("%Y-%m"))


def test_histories_respect_time_and_rules(default_program):
    generate_demo_data(members=60, seed=12, as_of=AS_OF)

    assert Event.objects.filter(occurred_at__gt=AS_OF).count() == 0
    assert Event.objects.filter(occurred_at__lt=F("member__joined_at")).count() == 0
    assert all(event.occurred_at.tzinfo is not None for event in Event.objects.all()[:50])
    # Daily limits hold per program day: at most one check-in hit per member and day.
    per_day = RuleHit.objects.filter(rule__code="check_in").values("member", "local_day").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in per_day)
    assert RuleHit.objects.filter(rule__code="profile_completed").values("member").distinct().count() == (
        RuleHit.objects.filter(rule__code="profile_completed").count()
    )
    # Events move growth and points; so do the entries without an event: expiries, and for points
    # the spends.
    deltas = _per_member(Event.objects.all(), "growth_delta")
    points = _per_member(Event.objects.all(), "points_delta")
    without_event = _per_member(PointsEntry.objects.filter(event__isnull=True))
    growth_without_event = _per_member(GrowthEntry.objects.filter(event__isnull=True))
    ladder = list(Tier.objects.order_by("rank"))
    for member in Member.objects.select_related("tier"):
        assert member.growth_value == deltas.get(member.pk, 0) + growth_without_event.get(member.pk, 0)
        assert member.points_available + member.points_pending == points.get(member.pk, 0) + without_event.get(
            member.pk, 0
        )
        assert member.tier.rank >= qualifying_tier(ladder, member.growth_value).rank
    # A storefront replaying any of these events with the same body would be recognised as a replay.
    for event in Event.objects.select_related("member"):
        assert (
            event.fingerprint
            == EventInput(
                source=event.source,
                event_id=event.event_id,
                member=event.member.external_id,
                event_type=event.event_type_id,
                occurred_at=event.occurred_at,
                amount=event.amount,
                order_id=event.order_id,
                original_order_id=event.original_order_id,
                data=event.data,
            ).fingerprint
        ), event.event_id


def test_the_first_night_after_the_history_expires_at_most_a_day_of_lots(default_program):
    generate_demo_data(members=60, seed=15, as_of=AS_OF)
    zone = default_program.zone
    history_ends = datetime.combine(AS_OF.astimezone(zone).date(), time.min, tzinfo=zone)
    first_night = datetime.combine(history_ends.date() + timedelta(days=1), time(3, 0), tzinfo=zone)

    # The demo starts (its jobs run as of that moment), then the first night comes.
    for as_of in (AS_OF, first_night):
        for job in ("expire_points", "expire_growth"):
            run_job_now(job=job, as_of=as_of)

    for model in (PointsEntry, GrowthEntry):
        expired = model.objects.filter(
            amount__gt=0,
            pk__in=model.objects.filter(kind="expire", created_at__gt=AS_OF - timedelta(seconds=1)).values(
                "expired_lot"
            ),
        )
        due = list(expired.values_list("expires_at", flat=True))
        assert due, f"no {model.__name__} lot came due that day (a seed with one is chosen)"
        assert all(history_ends - timedelta(days=1) < at <= first_night for at in due), model.__name__
    assert_invariants()


def test_ledgers_and_balances_satisfy_the_audit_invariants(default_program):
    generate_demo_data(members=60, seed=13, as_of=AS_OF)

    assert_invariants()


@pytest.mark.parametrize(
    "settings",
    [
        {"pending_days": 14, "growth_mode": "one_way"},
        {"points_expiry_policy": "calendar_year", "growth_window_policy": "never"},
        {"points_expiry_months": 1, "growth_window_months": 2},
    ],
)
def test_invariants_hold_under_other_program_settings(default_program, settings):
    for name, value in settings.items():
        setattr(default_program, name, value)
    default_program.save()

    generate_demo_data(members=40, seed=14, as_of=AS_OF)

    assert_invariants()
    if settings.get("pending_days"):
        assert PointsEntry.objects.filter(amount__gt=0, released_at__isnull=True).exists()
    if settings.get("growth_mode") == "one_way":
        assert not GrowthEntry.objects.filter(kind=GrowthEntry.Kind.DEDUCT).exists()


def _snapshot(members) -> list[tuple]:
    return [
        (m.name, m.joined_at, m.tier_id, m.growth_value, m.points_available, m.points_pending, m.purchase_amount)
        for m in members
    ]


def test_same_seed_gives_the_same_members_all_day_and_a_second_run_appends(default_program):
    generate_demo_data(members=40, seed=21, as_of=AS_OF)
    first = list(Member.objects.order_by("id"))
    generate_demo_data(members=40, seed=21, as_of=AS_OF + timedelta(hours=3))  # the same program day
    second = list(Member.objects.order_by("id"))[40:]

    assert len(second) == 40
    assert not {m.external_id for m in first} & {m.external_id for m in second}
    assert _snapshot(first) == _snapshot(second)
    assert Event.objects.filter(member__in=first).count() == Event.objects.filter(member__in=second).count()
    assert_invariants()


def test_another_seed_gives_other_members(default_program):
    generate_demo_data(members=30, seed=31, as_of=AS_OF)
    generate_demo_data(members=30, seed=32, as_of=AS_OF)
    members = list(Member.objects.order_by("id"))

    assert _snapshot(members[:30]) != _snapshot(members[30:])


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_chunks_are_written_in_the_background(default_program):
    summary = generate_demo_data(members=30, seed=41, as_of=AS_OF, chunk_size=8)

    assert Member.objects.count() == summary.members == 30
    assert Event.objects.count() == summary.rows[Event]
    assert_invariants()
    generated_top = Member.objects.aggregate(top=Max("pk"))["top"]
    next_member = Member.objects.create(external_id="after-demo", tier=Tier.objects.order_by("rank").first())
    assert next_member.pk > generated_top, "the key sequence was not moved past the generated rows"


def test_command_prints_a_summary(default_program):
    out = io.StringIO()
    call_command("generate_demo_data", members=5, seed=3, stdout=out)

    assert "Generated 5 members" in out.getvalue()
    assert "Normal" in out.getvalue()
    assert Member.objects.count() == 5
    assert _sum(Member.objects.all(), "purchase_count") == Event.objects.filter(event_type="purchase").count()
