"""The three ways events are recorded share one planner (loyalty.planner) and give the same ledgers:
one at a time (record_event), in a batch (record_events, set-based where it can), and the demo's
generator (MemberReplay, rows written in bulk). A seeded random history is recorded all three ways
for three twin members, with an earning contributor registered only here, and everything they
wrote is compared: the ledgers for all three, the domain events for the two live paths."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty import extensions, planner
from loyalty.audit import audit
from loyalty.demo.program import ProgramSnapshot
from loyalty.demo.replay import MemberReplay
from loyalty.demo.rows import ChunkRows, ChunkWriter, IdAllocator, reset_sequences
from loyalty.models import Event, GrowthEntry, PointsEntry, RuleHit, TierChange
from loyalty.services import enrol_member, record_event, record_events
from members.models import DomainEvent, Member

pytestmark = pytest.mark.django_db

SEEDS = [1, 2, 3, 4]
BONUS_REASON = "Test bonus: a tenth more points on purchases of 100 or more"


def _bonus(facts: planner.EventFacts, member, lines, context, member_key) -> list[planner.EarningLine]:
    """A campaign-like contributor: +10% of the purchase rules' points on orders of 100 or more,
    tied to each rule (capped with it), and 1 growth on its own for members the context names."""
    if facts.event_type != "purchase" or (facts.amount or 0) < 100:
        return []
    extra = [
        planner.EarningLine(growth=Decimal(0), points=line.points / 10, reason=line.reason, rule=line.rule)
        for line in lines
        if line.rule is not None and line.points > 0
    ]
    if member_key in context:
        extra.append(planner.EarningLine(growth=Decimal(1), points=Decimal(0), reason=BONUS_REASON, source="test"))
    return extra


@pytest.fixture
def bonus_contributor():
    contributor = planner.EarningContributor(prepare=lambda keys, facts: set(keys), contribute=_bonus)
    extensions.earning_contributors.register("test bonus", contributor)
    yield contributor
    extensions.earning_contributors.unregister("test bonus")


def _history(rng: random.Random, start) -> list[dict]:
    """Purchases (some large enough for the bonus), check-ins twice a day at times, reviews, partial
    and full returns of earlier purchases, and complaints (a rule that deducts growth)."""
    events, orders, at = [], [], start
    for n in range(60):
        at += timedelta(hours=rng.randrange(1, 20))
        roll = rng.random()
        event = {"event_id": f"e{n}", "occurred_at": at}
        if roll < 0.4:
            order = f"o{n}"
            amount = Decimal(rng.choice([30, 99, 100, 250, 800, 3000, 12000]))
            orders.append([order, amount])
            event |= {"type": "purchase", "amount": amount, "order_id": order}
        elif roll < 0.6:
            event |= {"type": "check_in"}
        elif roll < 0.7:
            event |= {"type": "review"}
        elif roll < 0.85 and orders:
            order = rng.choice(orders)
            refund = min(order[1], Decimal(rng.choice([10, 50, 100, 3000])))
            if refund <= 0:
                continue
            order[1] -= refund
            event |= {"type": "return", "amount": refund, "original_order_id": order[0]}
        else:
            event |= {"type": "complaint"}
        events.append(event)
    return events


def _record_one_by_one(member: str, history: list[dict]) -> None:
    for event in history:
        record_event(source="a", member=member, event_type=event["type"], **_fields(event))


def _record_in_a_batch(member: str, history: list[dict]) -> None:
    batch = [
        {
            "member": member,
            "type": e["type"],
            **{
                k: (str(v) if isinstance(v, Decimal) else v.isoformat() if k == "occurred_at" else v)
                for k, v in _fields(e).items()
            },
        }
        for e in history
    ]
    record_events(source="b", events=batch)


def _fields(event: dict) -> dict:
    return {key: value for key, value in event.items() if key != "type"}


def _replay_in_the_demo(external_id: str, history: list[dict], joined_at) -> None:
    """As the demo generator does: the member replayed in memory, its rows written in bulk."""
    program, ids, rows = ProgramSnapshot.load(), IdAllocator(), ChunkRows()
    member = Member(id=ids.take(Member), external_id=external_id, joined_at=joined_at)
    replay = MemberReplay(member, program, ids, rows, timezone.now())
    replay.enrol()
    for event in history:
        replay.record(
            event["type"],
            event["occurred_at"],
            amount=event.get("amount"),
            order_id=event.get("order_id", ""),
            original_order_id=event.get("original_order_id", ""),
        )
    replay.finish()
    with ChunkWriter() as writer:
        writer.write(rows)
    reset_sequences()


def _ledgers(external_id: str) -> dict:
    member = Member.objects.select_related("tier").get(external_id=external_id)
    mine = Q(member=member)
    by_time = ("event__occurred_at", "id")
    return {
        "member": (
            member.growth_value,
            member.points_available + member.points_pending,
            member.tier.code,
            member.purchase_count,
            member.purchase_amount,
            member.last_activity_at,
            member.last_purchase_at,
        ),
        "events": list(
            Event.objects.filter(mine)
            .order_by("occurred_at", "id")
            .values_list("event_type", "occurred_at", "amount", "growth_delta", "points_delta", "tier_changed")
        ),
        "rule_hits": sorted(
            RuleHit.objects.filter(mine).values_list(
                "event__occurred_at", "rule__code", "local_day", "growth", "points"
            )
        ),
        "growth": list(
            GrowthEntry.objects.filter(mine)
            .order_by(*by_time)
            .values_list(
                "event__occurred_at",
                "kind",
                "amount",
                "remaining",
                "expires_at",
                "rule__code",
                "reason",
                "reason_code",
                "reason_params",
            )
        ),
        "points": list(
            PointsEntry.objects.filter(mine)
            .order_by(*by_time)
            .values_list(
                "event__occurred_at",
                "kind",
                "amount",
                "remaining",
                "expires_at",
                "available_at",
                "rule__code",
                "reason",
                "reason_code",
                "reason_params",
            )
        ),
        "tiers": list(
            TierChange.objects.filter(mine, event__isnull=False)
            .order_by("event__occurred_at", "id")
            .values_list("event__occurred_at", "from_tier__code", "to_tier__code", "reason")
        ),
    }


def _published(external_id: str) -> list[tuple]:
    """The member's domain events in the order of their numbers, without the source (the twins'
    events came from two)."""
    rows = DomainEvent.objects.filter(member_external_id=external_id).order_by("member_sequence")
    return [
        (event_type, {k: v for k, v in payload.items() if k != "source"})
        for event_type, payload in rows.values_list("type", "payload")
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_three_event_paths_give_the_same_ledgers(program, make_rule, bonus_contributor, seed):
    make_rule("complaint", growth=-40, points=-15)
    joined = timezone.now() - timedelta(days=90)
    history = _history(random.Random(seed), joined + timedelta(days=1))
    for twin in "ab":
        enrol_member(external_id=twin, joined_at=joined)
    _record_one_by_one("a", history)
    _record_in_a_batch("b", history)
    _replay_in_the_demo("c", history, joined)

    one, batch, demo = _ledgers("a"), _ledgers("b"), _ledgers("c")
    assert one == batch
    assert one == demo
    assert _published("a") == _published("b")
    assert _published("a")[0][0] == "member.enrolled" and len(_published("a")) > len(history)
    assert _published("c") == [], "the demo's generated past, like an imported history, notifies no one"
    assert any(row[6] == BONUS_REASON for row in one["growth"]), "the contributor was applied"
    assert audit() == []


def test_the_batch_applies_a_contributor_set_based(program, bonus_contributor):
    """A batch of earning events stays set-based with a contributor registered: the statements for
    a batch do not grow with its size, the contributor's lines among its rows."""
    for n in range(50):
        enrol_member(external_id=f"m{n}")
    at = timezone.now() - timedelta(hours=1)

    def batch_of(members: range) -> list[dict]:
        return [
            {
                "event_id": f"p{n}",
                "member": f"m{n}",
                "type": "purchase",
                "amount": "500",
                "order_id": "o",
                "occurred_at": at.isoformat(),
            }
            for n in members
        ]

    record_events(source="shop", events=batch_of(range(0, 10)))  # loads the configuration
    statements = []
    for members in (range(10, 20), range(20, 40)):
        with CaptureQueriesContext(connection) as queries:
            results = record_events(source="shop", events=batch_of(members))
        assert all(result.applied for result in results)
        statements.append(len(queries))
    assert statements[0] == statements[1]
    assert GrowthEntry.objects.filter(reason=BONUS_REASON).count() == 40
    assert PointsEntry.objects.filter(kind="earn").count() == 40
    assert audit() == []
