"""The set-based jobs give the same results as the per-member building blocks.

One seeded random history of purchases (some still pending), returns, check-ins and other events,
spends and refunds, manual adjustments with short expiries, manual tier changes and freezes is played twice,
onto two populations A and B with identical histories. Then the jobs run twice (a month ahead, when
pending points are released and some lots expire; a year later, when everything left expires):
population A member by member through the services' building blocks, population B through the
runner's chunks (set-based SQL over member-id ranges covering only B). Member for member, the two
must end up with the same balances, tiers, ledger rows and tier changes.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db.models import Max
from django.utils import timezone

from loyalty.audit import audit
from loyalty.calculations import local_day
from loyalty.errors import InsufficientPoints
from loyalty.models import JobChunk, JobRun, PointsEntry, ProgramSettings, Tier, TierChange
from loyalty.services import (
    adjust_growth,
    adjust_points,
    change_tier_manually,
    expire_growth,
    expire_points,
    recalculate_member_tier,
    refund_spend,
    release_pending_points,
    spend_points,
)
from loyalty.services.jobs import finish_job_run, period_key, run_job_chunk
from members.models import DomainEvent, Member
from members.services import freeze_member
from tests.factories import MemberFactory
from tests.helpers import purchase, record, refund
from tests.jobs_helpers import growth_rows, points_rows, recalculations

pytestmark = pytest.mark.django_db

MEMBERS = 25
CHUNK = 4  # members per chunk for population B: several chunks, boundaries inside the population
EVENT_TYPES = ["check_in", "review", "photo_review", "invite", "complaint", "violation", "login"]
TIER_CODES = ["normal", "bronze", "silver", "gold", "platinum", "diamond"]


@dataclass
class History:
    """One member's actions, in order. Times are offsets from the moment the test starts."""

    actions: list[tuple] = field(default_factory=list)


def random_histories(rng: random.Random, now: datetime, first_as_of: datetime) -> list[History]:
    histories = []
    for _ in range(MEMBERS):
        history = History()
        orders: dict[str, tuple[Decimal, Decimal, datetime]] = {}  # order -> (amount, refunded, at)
        for step in range(rng.randint(2, 14)):
            roll = rng.random()
            if roll < 0.35:
                # Mostly old purchases (some past the 12-month window), some inside the 7-day return window.
                days_ago = rng.uniform(0, 6.5) if rng.random() < 0.25 else rng.uniform(7, 700)
                at = now - timedelta(days=days_ago, minutes=5)
                amount = Decimal(rng.randint(100, 900_000)) / 100
                order = f"o{step}"
                orders[order] = (amount, Decimal(0), at)
                history.actions.append(("purchase", order, amount, at))
            elif roll < 0.45 and orders:
                order = rng.choice(sorted(orders))
                amount, refunded, at = orders[order]
                left = amount - refunded
                if left > 0:
                    part = left
                    if rng.random() < 0.6:  # a partial refund
                        part = max((left * Decimal(rng.uniform(0.1, 0.9))).quantize(Decimal("0.01")), Decimal("0.01"))
                    orders[order] = (amount, refunded + part, at)
                    returned_at = min(at + timedelta(days=rng.uniform(0, 10)), now - timedelta(minutes=1))
                    history.actions.append(("return", order, part, returned_at))
            elif roll < 0.65:
                at = now - timedelta(days=rng.uniform(0, 700), minutes=5)
                history.actions.append(("event", rng.choice(EVENT_TYPES), at))
            elif roll < 0.75:
                history.actions.append(("spend", rng.uniform(0.1, 1.0)))
            elif roll < 0.8:
                history.actions.append(("refund_spend", rng.random() < 0.5))
            elif roll < 0.88:
                # A manual adjustment with a short expiry: some already past, some exactly at or just
                # after the first job run's as_of.
                expires_at = rng.choice(
                    [
                        first_as_of,
                        first_as_of + timedelta(microseconds=1),
                        now + timedelta(days=rng.uniform(-5, 60), minutes=rng.randint(0, 1440)),
                    ]
                )
                history.actions.append(("adjust_points", rng.randint(1, 500), expires_at))
            elif roll < 0.92:
                history.actions.append(("deduct_points", rng.uniform(0.1, 1.0)))
            elif roll < 0.97:
                history.actions.append(("adjust_growth", rng.choice([1, -1]) * rng.randint(1, 8000)))
            else:
                history.actions.append(("manual_tier", rng.choice(TIER_CODES)))
        if rng.random() < 0.15:
            history.actions.append(("freeze",))  # frozen members keep their balances; expiry still applies
        histories.append(history)
    return histories


def play(member: Member, history: History, user) -> None:
    """Apply a history to a member. Amounts that depend on the member's state (spends, deductions)
    are fractions of it, so two members with the same history get the same amounts."""
    spends: list[PointsEntry] = []
    for action in history.actions:
        member.refresh_from_db()
        kind = action[0]
        if kind == "purchase":
            _, order, amount, at = action
            purchase(member, str(amount), order_id=order, occurred_at=at)
        elif kind == "return":
            _, order, amount, at = action
            refund(member, order, str(amount), occurred_at=at)
        elif kind == "event":
            _, event_type, at = action
            record(member, event_type, occurred_at=at)
        elif kind == "spend":
            amount = int(member.points_available * action[1])
            if amount > 0:
                # Overdue lots are expired first: less may be available than the cache said.
                with contextlib.suppress(InsufficientPoints):
                    spends.append(spend_points(member=member, amount=amount, reason="coupon", source="shop"))
        elif kind == "refund_spend" and spends:
            spend = spends.pop()
            refund_spend(spend=spend, amount=None if action[1] else max(1, -spend.amount // 2), reason="cancel")
        elif kind == "adjust_points":
            adjust_points(member=member, amount=action[1], reason="goodwill", actor=user, expires_at=action[2])
        elif kind == "deduct_points":
            amount = int(member.points_available * action[1])
            if amount > 0:
                adjust_points(member=member, amount=-amount, reason="correction", actor=user)
        elif kind == "adjust_growth":
            amount = action[1] if action[1] > 0 else -min(-action[1], member.growth_value)
            if amount:
                adjust_growth(member=member, amount=amount, reason="correction", actor=user)
        elif kind == "freeze":
            freeze_member(member=member)
        elif kind == "manual_tier":
            tier = Tier.objects.get(code=action[1])
            if tier.pk != member.tier_id:
                change_tier_manually(member=member, tier=tier, actor=user, reason="staff decision")


def run_blocks(members: list[Member], as_of: datetime) -> None:
    """The per-member building blocks, job after job, member after member."""
    for member in members:
        release_pending_points(member=member, as_of=as_of)
    for member in members:
        expire_points(member=member, as_of=as_of)
    for member in members:
        expire_growth(member=member, as_of=as_of)
    period = period_key("recalculate_tiers", as_of)
    for member in members:
        recalculate_member_tier(member=member, period=period, as_of=as_of)


def run_jobs(members: list[Member], as_of: datetime) -> None:
    """The scheduled jobs through the runner, over chunks of member ids covering exactly `members`."""
    ids = sorted(m.pk for m in members)
    ranges = [(ids[i], ids[min(i + CHUNK, len(ids)) - 1]) for i in range(0, len(ids), CHUNK)]
    for job in ("release_pending_points", "expire_points", "expire_growth", "recalculate_tiers"):
        run = JobRun.objects.create(job=job, period=period_key(job, as_of), as_of=as_of, chunks_total=len(ranges))
        for first, last in ranges:
            chunk = JobChunk.objects.create(run=run, first_member_id=first, last_member_id=last)
            assert run_job_chunk(chunk_id=chunk.pk)
        assert finish_job_run(run_id=run.pk).status == JobRun.Status.DONE


def lower_thresholds(rng: random.Random) -> None:
    """Operators lowered some thresholds after the history: members who now qualify were missed."""
    Tier.objects.filter(code="platinum").update(threshold=rng.randint(6001, 9000))
    Tier.objects.filter(code="silver").update(threshold=rng.randint(501, 1200))


def published_since(member: Member, sequence: int) -> list[tuple]:
    """The member's domain events after `sequence`, in their order (ids differ between the twins,
    and the jobs' events carry none)."""
    rows = DomainEvent.objects.filter(member=member, member_sequence__gt=sequence).order_by("member_sequence")
    return list(rows.values_list("type", "payload"))


def sequences(members: list[Member]) -> dict[int, int]:
    """Each member's highest event number so far."""
    highest = DomainEvent.objects.filter(member__in=members).values("member_id").annotate(last=Max("member_sequence"))
    return {row["member_id"]: row["last"] for row in highest}


def member_result(member: Member, job_time: datetime, sequence: int) -> dict:
    member.refresh_from_db()
    changes = recalculations(member)
    return {
        "published": published_since(member, sequence),
        "growth_value": member.growth_value,
        "points_available": member.points_available,
        "points_pending": member.points_pending,
        "tier": member.tier.code,
        "tier_since": member.tier_since if changes and member.tier_since >= job_time else None,
        "points": points_rows(member, job_time),
        "growth": growth_rows(member, job_time),
        "recalculations": changes,
    }


@pytest.mark.parametrize(("seed", "policy"), [(1, "one_tier"), (2, "to_qualifying"), (3, "never")])
def test_jobs_give_the_same_results_as_the_per_member_building_blocks(configure_program, user, tiers, seed, policy):
    configure_program(pending_days=7, downgrade_policy=policy)
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    # The first run at a local midnight, where rolling expiries fall; the second when all has expired.
    zone = ProgramSettings.current().zone
    midnight = datetime.combine(local_day(now + timedelta(days=30), zone), time.min, tzinfo=zone)
    as_ofs = [midnight, now + timedelta(days=400)]
    histories = random_histories(rng, now, as_ofs[0])
    population_a = [MemberFactory(external_id=f"a-{seed}-{i:03d}") for i in range(MEMBERS)]
    population_b = [MemberFactory(external_id=f"b-{seed}-{i:03d}") for i in range(MEMBERS)]
    for a, b, history in zip(population_a, population_b, histories, strict=True):
        play(a, history, user)  # side by side, so that spends see the same "now" for overdue lots
        play(b, history, user)
    lower_thresholds(rng)

    for as_of in as_ofs:
        before = sequences(population_a + population_b)
        run_blocks(population_a, as_of)
        run_jobs(population_b, as_of)

        for a, b in zip(population_a, population_b, strict=True):
            expected = member_result(a, as_ofs[0], before.get(a.pk, 0))
            assert member_result(b, as_ofs[0], before.get(b.pk, 0)) == expected, f"{b.external_id} as of {as_of}"
        assert audit() == []
    # The scenario exercised every job.
    b_ids = [m.pk for m in population_b]
    assert PointsEntry.objects.filter(member__in=b_ids, released_at=as_ofs[0]).exists()
    assert PointsEntry.objects.filter(member__in=b_ids, kind="expire", created_at__in=as_ofs).count() > MEMBERS // 2
    recalculated = TierChange.objects.filter(member__in=b_ids, reason=TierChange.Reason.RECALCULATION)
    assert recalculated.exists()
    published = set(DomainEvent.objects.filter(member__in=b_ids).values_list("type", flat=True))
    assert {"points.expired", "growth.changed"} <= published and published & {"tier.upgraded", "tier.downgraded"}
