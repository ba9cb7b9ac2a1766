"""Planning the members of a run, replaying them chunk by chunk and writing each chunk in bulk."""

from __future__ import annotations

import gc
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Model
from django.utils import timezone

from loyalty.calculations import local_day, start_of_day
from loyalty.models import Tier
from members.models import Member

from .behaviour import SPEND, Intent, Persona, choose_points_payment, join_times, plan_intents, sample_persona
from .people import make_identity
from .program import ProgramSnapshot
from .replay import MemberReplay
from .rows import WRITE_ORDER, ChunkRows, ChunkWriter, IdAllocator, analyze_tables, reset_sequences

REFERRED_SHARE = 0.12
DEFAULT_CHUNK_SIZE = 2000

Progress = Callable[[int, int, float], None]


@dataclass
class MemberPlan:
    index: int
    joined_at: float
    persona: Persona
    seed: int  # each member draws from its own generator, so chunking never changes a history
    referrer_index: int | None = None
    invitees: list[tuple[float, int]] = field(default_factory=list)  # (joined_at, index) of the friends


@dataclass
class DemoSummary:
    ladder: list[Tier]
    members: int = 0
    rows: Counter = field(default_factory=Counter)  # by model
    tiers: Counter = field(default_factory=Counter)  # generated members by tier
    seconds: float = 0.0

    def add_chunk(self, rows: ChunkRows, members: list[Member]) -> None:
        self.members += len(members)
        self.rows.update(rows.counts())
        self.tiers.update(member.tier_id for member in members)

    def row_counts(self) -> list[tuple[type[Model], int]]:
        return [(model, self.rows[model]) for model in WRITE_ORDER]

    def tier_counts(self) -> list[tuple[Tier, int]]:
        return [(tier, self.tiers[tier.id]) for tier in self.ladder]


def plan_members(rng: random.Random, count: int, now: float) -> list[MemberPlan]:
    plans = []
    for index, joined_at in enumerate(join_times(rng, count, now)):
        plans.append(MemberPlan(index, joined_at, sample_persona(rng, joined_at, now), rng.getrandbits(64)))
    for plan in plans[1:]:
        if rng.random() < REFERRED_SHARE:
            referrer = plans[rng.randrange(plan.index)]  # joined no later, as plans are in join order
            plan.referrer_index = referrer.index
            referrer.invitees.append((plan.joined_at, plan.index))
    return plans


def generate_demo_data(
    *,
    members: int,
    seed: int,
    as_of: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create `members` members with histories that end at the start of the program day of `as_of`
    (default: now), so the same seed and program give the same histories all day long. A second
    run appends new members after the existing ones."""
    return DemoGenerator(seed, as_of or timezone.now(), chunk_size).run(members, progress)


class DemoGenerator:
    def __init__(self, seed: int, as_of: datetime, chunk_size: int):
        self.seed = seed
        self.chunk_size = chunk_size
        self.program = ProgramSnapshot.load()
        # The replay's "now": release, dormancy and the end of every history are measured from it.
        self.now = start_of_day(local_day(as_of, self.program.zone), self.program.zone)
        self.ids = IdAllocator()
        self.member_ids: list[int] = []

    def run(self, count: int, progress: Progress | None) -> DemoSummary:
        started = time.monotonic()
        plans = plan_members(random.Random(self.seed), count, self.now.timestamp())
        self.member_ids = [self.ids.take(Member) for _ in plans]
        summary = DemoSummary(ladder=self.program.ladder)
        try:
            with ChunkWriter() as writer:
                for start in range(0, count, self.chunk_size):
                    rows = ChunkRows()
                    with _cyclic_gc_paused():
                        chunk = [self._replay_member(plan, rows) for plan in plans[start : start + self.chunk_size]]
                        writer.write(rows)
                    summary.add_chunk(rows, chunk)
                    if progress:
                        progress(summary.members, count, time.monotonic() - started)
        finally:
            # Also after a failure: the chunks already committed used keys the sequences must skip.
            reset_sequences()
        analyze_tables()
        summary.seconds = time.monotonic() - started
        return summary

    def _external_id(self, index: int) -> str:
        return f"demo-{self.member_ids[index]}"

    def _replay_member(self, plan: MemberPlan, rows: ChunkRows) -> Member:
        rng = random.Random(plan.seed)
        identity = make_identity(rng, self.now.date())
        external_id = self._external_id(plan.index)
        member = Member(
            id=self.member_ids[plan.index],
            external_id=external_id,
            name=identity.name,
            email=identity.email,
            phone=identity.phone,
            birthday=identity.birthday,
            joined_at=_moment(plan.joined_at),
            referrer_id=None if plan.referrer_index is None else self.member_ids[plan.referrer_index],
        )
        replay = MemberReplay(member, self.program, self.ids, rows, self.now)
        replay.enrol()
        invitees = [(at, self._external_id(index)) for at, index in plan.invitees]
        for intent in plan_intents(rng, plan.persona, external_id, invitees):
            self._perform(replay, rng, intent)
        replay.run_jobs_until(self.now)
        return replay.finish()

    @staticmethod
    def _perform(replay: MemberReplay, rng: random.Random, intent: Intent) -> None:
        at = _moment(intent.at)
        replay.run_jobs_until(at)
        if intent.kind != SPEND:
            replay.record(
                intent.kind,
                at,
                amount=intent.amount,
                order_id=intent.order_id,
                original_order_id=intent.original_order_id,
                data=intent.data,
            )
            return
        amount = choose_points_payment(rng, replay.spendable_points(at))
        if amount is not None:
            replay.pay_with_points(amount, at, order_id=intent.order_id)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Replaying and preparing a chunk build millions of small acyclic objects; the cycle collector
    would rescan them all, over and over, for nothing (a fifth of the run time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _moment(timestamp: float) -> datetime:
    # Whole seconds, rounded down so that nothing lands after the `now` the plan was made for.
    return datetime.fromtimestamp(int(timestamp), tz=UTC)
