"""The event planner: what recording one event does to one member, as data. Pure: no database, no
clock; everything it needs comes in, everything it decides comes out.

The three ways events are recorded — one at a time (`loyalty.services.events`), set-based in
batches (`loyalty.services.event_batch`) and the demo's generator (`loyalty.demo.replay`) — each
gather the inputs their own way, call `plan_event`, and execute the plan with their own writers
(ORM rows, one statement for a batch, rows for COPY). So a rule is decided in one place.

What an event earns, in order (docs/architecture.md, "The event planner"):

1. **base rules**: each active rule of the event's type whose window holds `occurred_at` gives
   `growth + growth_per_unit x amount` and `points + points_per_unit x amount`;
2. **tier multiplier**: a rule's points times the multiplier of the tier held before the event,
   when the rule says so;
3. **caps**: a rule whose daily or lifetime limit is reached earns nothing (and the contributors
   never see it, so nothing is added to it);
4. **contributors** (loyalty.extensions.earning_contributors, e.g. a campaign's multiplier or bonus)
   add lines of their own, given the lines so far, in their registered order. A line that names a
   `grant` (a campaign) is booked as a credit of its own and reported on the event (`EventPlan.grants`):
   its amounts are whole, the contributor's share of the one rounding (`rounded_share`), so that a
   budget counts exactly what is booked;
5. **one rounding**: each rule's lines together toward zero, once (earnings round down; a deduction
   never takes a fraction more), then bounded by MAX_EARNING.

Returns reverse first (before the rules), then the rules' credits and deductions follow in rule
order; then the activity summary, then the tier (an upgrade on earning, or after a return the
downgrade that `return_downgrade = immediate` asks for).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from loyalty import reason_codes
from loyalty.calculations import (
    MAX_EARNING,
    RuleTerms,
    expiry_at,
    local_day,
    plan_consumption,
    qualifying_tier,
    reversal_due,
    rule_applies_at,
    rule_within_limits,
    to_whole,
)
from loyalty.errors import RefundExceedsOrder
from loyalty.reason_codes import Reason
from members.errors import InvalidInput

PURCHASE = "purchase"
RETURN = "return"
GROWTH = "growth"
POINTS = "points"
# Ledger entry kinds (loyalty.models.ledgers).
EARN, DEDUCT, REVERSE = "earn", "deduct", "reverse"
UPGRADE, RETURN_DOWNGRADE = "upgrade", "return"


class Tier(Protocol):
    pk: Any
    code: str
    rank: int
    threshold: int
    points_multiplier: Decimal


class Rule(RuleTerms, Protocol):
    pk: Any
    code: str
    name: str


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFacts:
    event_type: str
    occurred_at: datetime
    amount: Decimal | None
    order_id: str = ""
    original_order_id: str = ""


@dataclass(frozen=True)
class MemberState:
    """The member's cached balances, tier and behaviour summary."""

    growth_value: int
    points_available: int
    points_pending: int
    tier: Any  # a Tier
    tier_since: datetime
    last_activity_at: datetime | None
    last_purchase_at: datetime | None
    purchase_count: int
    purchase_amount: Decimal


@dataclass(frozen=True)
class Program:
    """The settings the planner reads (from loyalty.config.ProgramConfig or the demo's snapshot)."""

    zone: ZoneInfo
    pending_days: int
    deducts_growth: bool  # growth_mode two_way
    growth_window: tuple[str, int]  # (policy, months)
    points_expiry: tuple[str, int]
    ladder: Sequence[Any]  # Tiers by rank


@dataclass
class Lot:
    """An open lot as the writer sees it: `key` is the writer's own handle (a row), `earned_by` the
    key of the event that earned it, `pending` whether its points are not spendable yet."""

    key: Any
    remaining: int
    expires_at: datetime | None
    earned_by: Any = None
    pending: bool = False


@dataclass(frozen=True)
class Order:
    """What a return needs of its purchase: its amount and what it earned, and what earlier returns
    of it refunded and reversed."""

    event_key: Any
    amount: Decimal
    growth_earned: int
    points_earned: int
    refunded: Decimal = Decimal("0")
    growth_reversed: int = 0
    points_reversed: int = 0


@dataclass(frozen=True)
class GrantKey:
    """What granted a contributor's line: its kind of source ("campaign"), its code and version. The
    event's result lists each grant's share (Event.contributions)."""

    source: str
    code: str
    version: int = 0


@dataclass(frozen=True)
class EarningLine:
    """What a rule or a contributor adds for one event, before rounding. `rule` ties a contributor's
    line to a rule (its points are booked with the rule's and counted in its hits). A line with a
    `grant` is booked apart with whole amounts; `desired` is what it would have given (growth,
    points) before a budget clipped it or a holdout withheld it (None: what it gives)."""

    growth: Decimal
    points: Decimal
    reason: str | Reason  # text: a contributor's own words
    rule: Any = None
    source: str = "rule"
    grant: GrantKey | None = None
    desired: tuple[int, int] | None = None


@dataclass(frozen=True)
class EarningContributor:
    """Adds earnings to events (loyalty.extensions.earning_contributors). `prepare(member_keys,
    facts)` reads what it needs once for a whole batch (or one event) and returns a context;
    `contribute(facts, member, lines, context, member_key)` returns extra lines, given the lines so far."""

    prepare: Callable[[Sequence[Any], Sequence[EventFacts]], Any]
    contribute: Callable[[EventFacts, MemberState, tuple[EarningLine, ...], Any, Any], list[EarningLine]]
    # Called by the writers in the event's transaction once everything is planned, before anything
    # is written: (context, planned events in order) -> True when the contributor changed its context
    # (a budget ran out) and the events must be planned again. Where budgets are claimed.
    settle: Callable[[Any, Sequence[Planned]], bool] | None = None
    # After settle, before anything is written: (context, planned) -> the contributor's own rows of
    # the events (a campaign's grants), which the writers insert with the events.
    rows: Callable[[Any, Sequence[Planned]], EventRows | None] | None = None
    # After the events and their ledger rows are written (event keys known): (context, planned).
    record: Callable[[Any, Sequence[Planned]], None] | None = None
    # Whether settle now claims counters several members share (a campaign's total budget).
    claims_shared_counters: Callable[[], bool] | None = None


@dataclass(frozen=True)
class EventRows:
    """Rows a contributor keeps beside the events it contributed to, each pointing at its event:
    the writers insert them with the events (the set-based path in the same statement, where one
    more round trip per event cost more than the rows). `model` is the rows' Django model, with a
    foreign key `event`; `rows` are (the Planned.event, *values of the fields named in `fields`)."""

    model: Any
    fields: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class Planned:
    """An event as settle and record see it: its member, facts and plan, and the writer's event row
    (its key is set by the time `record` is called)."""

    member_key: Any
    facts: EventFacts
    plan: EventPlan
    event: Any = None


def rounded_share(before: Decimal, added: Decimal) -> int:
    """A contributor's whole share of the one rounding: what adding `added` to `before` (the lines so
    far) adds after rounding toward zero. Shares of lines added one after the other sum to the
    rounding of the sum, never a point more."""
    return to_whole(before + added) - to_whole(before)


# (rule, local day) -> (hits that day, hits ever) before this event.
HitCounts = Callable[[Any, date], tuple[int, int]]


# --- the plan -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleHit:
    rule: Any
    day: date
    growth: int
    points: int


@dataclass(frozen=True)
class Credit:
    """A new lot."""

    ledger: str  # GROWTH or POINTS
    kind: str
    amount: int
    reason: str | Reason
    rule: Any
    expires_at: datetime | None
    available_at: datetime | None = None  # points
    released: bool = True  # points: spendable at once
    grant: GrantKey | None = None  # a contributor's grant (a campaign) it was booked for


@dataclass(frozen=True)
class Debit:
    """What a debit takes from which lots (lot keys); less than asked when the lots ran short."""

    ledger: str
    kind: str
    amount: int  # taken, positive
    takes: tuple[tuple[Any, int], ...]
    reason: str | Reason
    rule: Any = None
    pending_taken: int = 0  # points: how much of it came from pending lots


@dataclass(frozen=True)
class TierMove:
    to: Any
    reason: str  # UPGRADE or RETURN_DOWNGRADE
    note: str = ""


@dataclass(frozen=True)
class GrantShare:
    """What one grant (a campaign) added to the event, and what it would have without its budget or
    holdout."""

    key: GrantKey
    growth: int
    points: int
    desired_growth: int
    desired_points: int

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.key.source,
            "code": self.key.code,
            "version": self.key.version,
            "growth": self.growth,
            "points": self.points,
            "desired_growth": self.desired_growth,
            "desired_points": self.desired_points,
        }


@dataclass
class EventPlan:
    member: MemberState  # after the event
    hits: list[RuleHit] = field(default_factory=list)
    entries: list[Credit | Debit] = field(default_factory=list)
    tier_move: TierMove | None = None
    growth_delta: int = 0
    points_delta: int = 0
    order: Order | None = None  # a return's purchase, with this return counted
    # The domain events it makes (members.outbox), as (type, payload) in order; writers add the
    # event's own id and source to each payload.
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    grants: list[GrantShare] = field(default_factory=list)


# --- planning -----------------------------------------------------------------------------------------


def plan_event(
    facts: EventFacts,
    member: MemberState,
    program: Program,
    *,
    rules: Sequence[Any],
    hits: HitCounts,
    now: datetime,
    order: Order | None = None,
    growth_lots: list[Lot] | None = None,
    points_lots: list[Lot] | None = None,
    return_floor: Any = None,
    contributions: Sequence[tuple[EarningContributor, Any]] = (),
    member_key: Any = None,
) -> EventPlan:
    """Plan one event. `rules` are the active rules of its type (in code order); `hits` counts the
    member's earlier hits of a rule; `now` is when it is recorded (pending points due before then
    are released at once). A return needs its purchase (`order`) and the member's open lots, as do
    rules that deduct; `return_floor` is the lowest tier a return may take the member to (None: a
    return does not move the tier). `contributions` are the registered contributors with their
    prepared context. Lots are changed in place: the writer's view of them after the event."""
    plan = EventPlan(member=member)
    state = _State.of(member)
    if facts.event_type == RETURN and order is not None:
        plan.order = _reverse_order(facts, order, state, program, plan, growth_lots or [], points_lots or [])
    day = local_day(facts.occurred_at, program.zone)
    lines = earning_lines(
        facts,
        member,
        program,
        rules=_within_limits(rules, hits, day, facts.occurred_at),
        contributions=contributions,
        member_key=member_key,
    )
    for rule, rule_lines in _grouped(lines):
        own = [line for line in rule_lines if line.grant is None]
        granted = [line for line in rule_lines if line.grant is not None]
        growth, points = _rounded(own)
        if rule is not None:
            plan.hits.append(
                RuleHit(
                    rule=rule,
                    day=day,
                    growth=growth + sum(to_whole(line.growth) for line in granted),
                    points=points + sum(to_whole(line.points) for line in granted),
                )
            )
        if own:
            _book_growth(growth, own[0].reason, rule, facts, state, program, plan, growth_lots or [])
            _book_points(points, own[0].reason, rule, facts, state, program, plan, points_lots or [], now)
        for line in granted:
            _book_growth(to_whole(line.growth), line.reason, rule, facts, state, program, plan, [], line.grant)
            _book_points(to_whole(line.points), line.reason, rule, facts, state, program, plan, [], now, line.grant)
    plan.grants = _grant_shares(lines)
    state.update_activity(facts)
    plan.tier_move = _tier_move(state, program, facts, return_floor)
    if plan.tier_move is not None:
        state.tier, state.tier_since = plan.tier_move.to, now
    plan.member = state.snapshot()
    plan.growth_delta = plan.member.growth_value - member.growth_value
    plan.points_delta = (plan.member.points_available + plan.member.points_pending) - (
        member.points_available + member.points_pending
    )
    plan.published = _published(plan, member.tier)
    if facts.event_type == PURCHASE and member.purchase_count == 0:
        plan.published.append(("member.first_purchase", {"amount": facts.amount, "order_id": facts.order_id}))
    return plan


def _published(plan: EventPlan, tier_before: Any) -> list[tuple[str, dict[str, Any]]]:
    """The event's domain events: points earned (with whether they are pending), points taken by kind
    (a return's reversal, a rule's deduction), the change of growth, and the tier move."""
    events: list[tuple[str, dict[str, Any]]] = []
    earned = [e for e in plan.entries if isinstance(e, Credit) and e.ledger == POINTS]
    if earned:
        pending = [e.available_at for e in earned if not e.released and e.available_at is not None]
        details: dict[str, Any] = {"points": sum(e.amount for e in earned), "pending": bool(pending)}
        if pending:
            details["available_at"] = min(pending)
        events.append(("points.earned", details))
    taken: dict[str, int] = {}
    for entry in plan.entries:
        if isinstance(entry, Debit) and entry.ledger == POINTS and entry.amount:
            taken[entry.kind] = taken.get(entry.kind, 0) + entry.amount
    events += [("points.adjusted", {"points": -amount, "kind": kind}) for kind, amount in taken.items()]
    if plan.growth_delta:
        events.append(("growth.changed", {"growth": plan.growth_delta, "kind": "event"}))
    if plan.tier_move is not None:
        to = plan.tier_move.to
        direction = "tier.upgraded" if to.rank > tier_before.rank else "tier.downgraded"
        events.append((direction, {"from": tier_before.code, "to": to.code, "reason": plan.tier_move.reason}))
    return events


def earning_lines(
    facts: EventFacts,
    member: MemberState,
    program: Program,
    *,
    rules: Sequence[Any],
    contributions: Sequence[tuple[EarningContributor, Any]] = (),
    member_key: Any = None,
) -> list[EarningLine]:
    """Steps 1, 2 and 4: the base rules (those within their limits, step 3) with the tier multiplier,
    then the contributors' lines."""
    base = Decimal(facts.amount or 0)
    multiplier = member.tier.points_multiplier
    lines: list[EarningLine] = []
    for rule in rules:
        if not rule_applies_at(rule, facts.occurred_at):
            continue
        growth = Decimal(rule.growth) + rule.growth_per_unit * base
        points = Decimal(rule.points) + rule.points_per_unit * base
        if rule.apply_tier_multiplier:
            points *= multiplier
        lines.append(
            EarningLine(
                growth=growth,
                points=points,
                reason=Reason(reason_codes.RULE, {"name": rule.name or rule.code}),
                rule=rule,
            )
        )
    for contributor, context in contributions:
        added = contributor.contribute(facts, member, tuple(lines), context, member_key)
        if any(line.growth < 0 or line.points < 0 for line in added):
            raise ValueError("Earning contributors add; they never deduct (their lines must not be negative).")
        lines += added
    return lines


def _within_limits(rules: Sequence[Any], hits: HitCounts, day: date, at: datetime) -> list[Any]:
    """Step 3: the rules in force at `at` still within their daily and lifetime limits (counted
    before this event)."""
    kept = []
    for rule in rules:
        if not rule_applies_at(rule, at):
            continue
        if rule.daily_limit is not None or rule.lifetime_limit is not None:
            today, ever = hits(rule, day)
            if not rule_within_limits(rule, today, ever):
                continue
        kept.append(rule)
    return kept


def _grant_shares(lines: list[EarningLine]) -> list[GrantShare]:
    """Each grant's lines summed, in the order they were added."""
    shares: dict[GrantKey, list[int]] = {}
    for line in lines:
        if line.grant is None:
            continue
        growth, points = to_whole(line.growth), to_whole(line.points)
        desired_growth, desired_points = line.desired if line.desired is not None else (growth, points)
        total = shares.setdefault(line.grant, [0, 0, 0, 0])
        total[0] += growth
        total[1] += points
        total[2] += desired_growth
        total[3] += desired_points
    return [GrantShare(key, *totals) for key, totals in shares.items()]


def _grouped(lines: list[EarningLine]) -> list[tuple[Any, list[EarningLine]]]:
    """The lines grouped by rule (in order), each rule's own line first. Lines of no rule stand
    alone."""
    groups: list[tuple[Any, list[EarningLine]]] = []
    by_rule: dict[Any, list[EarningLine]] = {}
    for line in lines:
        if line.rule is None:
            groups.append((None, [line]))
        elif line.rule.pk in by_rule:
            by_rule[line.rule.pk].append(line)
        else:
            by_rule[line.rule.pk] = [line]
            groups.append((line.rule, by_rule[line.rule.pk]))
    _check_bounds(groups)
    return groups


def _rounded(lines: list[EarningLine]) -> tuple[int, int]:
    """Step 5: one rounding of the lines together, toward zero."""
    return to_whole(sum((line.growth for line in lines), Decimal(0))), to_whole(
        sum((line.points for line in lines), Decimal(0))
    )


def _check_bounds(groups: list[tuple[Any, list[EarningLine]]]) -> None:
    for _, rule_lines in groups:
        growth, points = _rounded(rule_lines)
        if abs(growth) > MAX_EARNING or abs(points) > MAX_EARNING:
            raise InvalidInput(
                "The event would earn more than one event may.",
                fields={"amount": [f"Earns more than {MAX_EARNING:,} through one rule; check the amount."]},
            )


@dataclass
class _State:
    """The member as the plan changes it (MemberState's fields, mutable)."""

    growth_value: int
    points_available: int
    points_pending: int
    tier: Any
    tier_since: datetime
    last_activity_at: datetime | None
    last_purchase_at: datetime | None
    purchase_count: int
    purchase_amount: Decimal

    @classmethod
    def of(cls, member: MemberState) -> _State:
        return cls(**{f.name: getattr(member, f.name) for f in fields(MemberState)})

    def snapshot(self) -> MemberState:
        return MemberState(**{f.name: getattr(self, f.name) for f in fields(MemberState)})

    def update_activity(self, facts: EventFacts) -> None:
        at = facts.occurred_at
        self.last_activity_at = max(filter(None, [self.last_activity_at, at]))
        if facts.event_type == PURCHASE:
            self.purchase_count += 1
            self.purchase_amount += facts.amount or 0
            self.last_purchase_at = max(filter(None, [self.last_purchase_at, at]))
        elif facts.event_type == RETURN:
            self.purchase_amount -= facts.amount or 0


def _reverse_order(
    facts: EventFacts,
    order: Order,
    state: _State,
    program: Program,
    plan: EventPlan,
    growth_lots: list[Lot],
    points_lots: list[Lot],
) -> Order:
    """Cumulative refunds reverse round-down(earned x refunded so far / order amount) in total; the
    order's own lots are taken first, and for points the pending ones before the spendable ones."""
    refunded = order.refunded + (facts.amount or 0)
    if refunded > order.amount:
        raise RefundExceedsOrder(
            f"Refunds would total {refunded} on order {facts.original_order_id} of {order.amount}; "
            f"at most {order.amount - order.refunded} is still refundable."
        )
    growth_due = reversal_due(order.growth_earned, order.amount, refunded, order.growth_reversed)
    points_due = reversal_due(order.points_earned, order.amount, refunded, order.points_reversed)
    reason = Reason(reason_codes.RETURN, {"order": facts.original_order_id})
    growth_taken = points_taken = 0
    if growth_due:
        growth_taken = _debit(
            growth_lots, growth_due, GROWTH, REVERSE, reason, None, state, plan, prefer=[_earned_by(order.event_key)]
        )
    if points_due:
        points_taken = _debit(
            points_lots,
            points_due,
            POINTS,
            REVERSE,
            reason,
            None,
            state,
            plan,
            prefer=[_earned_by(order.event_key), _pending],
        )
    return replace(
        order,
        refunded=refunded,
        growth_reversed=order.growth_reversed + growth_taken,
        points_reversed=order.points_reversed + points_taken,
    )


def _book_growth(
    growth: int,
    reason: str | Reason,
    rule: Any,
    facts: EventFacts,
    state: _State,
    program: Program,
    plan: EventPlan,
    lots: list[Lot],
    grant: GrantKey | None = None,
) -> None:
    if growth > 0:
        policy, months = program.growth_window
        expires_at = expiry_at(policy, months, facts.occurred_at, program.zone)
        plan.entries.append(Credit(GROWTH, EARN, growth, reason, rule, expires_at, grant=grant))
        state.growth_value += growth
    elif growth < 0 and program.deducts_growth:
        _debit(lots, -growth, GROWTH, DEDUCT, reason, rule, state, plan, prefer=[])


def _book_points(
    points: int,
    reason: str | Reason,
    rule: Any,
    facts: EventFacts,
    state: _State,
    program: Program,
    plan: EventPlan,
    lots: list[Lot],
    now: datetime,
    grant: GrantKey | None = None,
) -> None:
    if points > 0:
        pending_days = program.pending_days if facts.event_type == PURCHASE else 0
        available_at = facts.occurred_at + timedelta(days=pending_days)
        policy, months = program.points_expiry
        expires_at = expiry_at(policy, months, facts.occurred_at, program.zone)
        released = available_at <= now
        plan.entries.append(Credit(POINTS, EARN, points, reason, rule, expires_at, available_at, released, grant))
        if released:
            state.points_available += points
        else:
            state.points_pending += points
    elif points < 0:
        _debit(lots, -points, POINTS, DEDUCT, reason, rule, state, plan, prefer=[_spendable])


def _earned_by(event_key: Any) -> Callable[[Lot], bool]:
    return lambda lot: lot.earned_by == event_key


def _pending(lot: Lot) -> bool:
    return lot.pending


def _spendable(lot: Lot) -> bool:
    return not lot.pending


def soonest_expiring_first(lots: Sequence[Lot], prefer: Sequence[Callable[[Lot], bool]]) -> list[Lot]:
    """The order debits take lots in: the preferred ones first (in the order of the preferences),
    then the soonest to expire (never-expiring last), then the oldest (`lots` come oldest first)."""
    never = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return sorted(
        (lot for lot in lots if lot.remaining > 0),
        key=lambda lot: (*(not wanted(lot) for wanted in prefer), lot.expires_at or never),
    )


def _debit(
    lots: list[Lot],
    amount: int,
    ledger: str,
    kind: str,
    reason: str | Reason,
    rule: Any,
    state: _State,
    plan: EventPlan,
    *,
    prefer: Sequence[Callable[[Lot], bool]],
) -> int:
    takes, _short = plan_consumption(((lot, lot.remaining) for lot in soonest_expiring_first(lots, prefer)), amount)
    if not takes:
        return 0
    taken = sum(take.amount for take in takes)
    pending_taken = 0
    for take in takes:
        lot = take.lot
        lot.remaining -= take.amount
        if ledger == POINTS and lot.pending:
            pending_taken += take.amount
    plan.entries.append(
        Debit(
            ledger,
            kind,
            taken,
            tuple((take.lot.key, take.amount) for take in takes),
            reason,
            rule,
            pending_taken,
        )
    )
    if ledger == GROWTH:
        state.growth_value -= taken
    else:
        state.points_pending -= pending_taken
        state.points_available -= taken - pending_taken
    return taken


def _tier_move(state: _State, program: Program, facts: EventFacts, return_floor: Any) -> TierMove | None:
    target = qualifying_tier(program.ladder, state.growth_value)
    if target.rank > state.tier.rank:
        return TierMove(to=target, reason=UPGRADE)
    if facts.event_type == RETURN and return_floor is not None and target.rank < state.tier.rank:
        target = max(target, return_floor, key=lambda tier: tier.rank)
        if target.rank < state.tier.rank:
            note = f"Growth {state.growth_value} after the return is below {state.tier.code}'s threshold"
            return TierMove(to=target, reason=RETURN_DOWNGRADE, note=note)
    return None
