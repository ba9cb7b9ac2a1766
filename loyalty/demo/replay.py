"""One member's history fed through the engine's rules in memory.

`MemberReplay` records events with the engine's own planner (loyalty.planner) and mirrors
`spend_points`, but keeps the member's lots in memory and hands its rows to a `ChunkRows` instead of
writing them one at a time. Calls must come in time order: each behaves as if the engine had been
called at that moment (see the package docstring for what that means for release and expiry).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from loyalty import planner, reason_codes
from loyalty.calculations import Take, local_day, plan_consumption, recalculated_tier
from loyalty.models import (
    EarningRule,
    Event,
    EventType,
    GrowthAllocation,
    GrowthEntry,
    PointsAllocation,
    PointsEntry,
    RuleHit,
    Tier,
    TierChange,
)
from loyalty.models.program import ReturnDowngrade
from loyalty.reason_codes import Reason
from loyalty.reasons import reason_fields
from loyalty.services.event_input import EventInput
from loyalty.services.event_plans import contributions
from loyalty.services.ledger import GROWTH_EXPIRED, POINTS_EXPIRED
from loyalty.services.tiers import EARNED_MOVES
from members.models import Member

from .program import ProgramSnapshot
from .rows import ChunkRows, IdAllocator
from .tables import AllocationRow, EventRow, GrowthEntryRow, PointsEntryRow, RuleHitRow, TierChangeRow

SOURCE = "demo"
# The night's order of the expiry jobs, for lots that both come due at one moment.
_POINTS_EXPIRY, _GROWTH_EXPIRY = 0, 1
# Stands in for "never expires" so that such lots sort last, as the engine's NULLS LAST does.
NEVER = datetime.max.replace(tzinfo=UTC)

Preference = Callable[[PointsEntryRow | GrowthEntryRow], bool]


@dataclass
class RuleCount:
    """A member's hits of one rule: on the latest program day seen, and ever."""

    day: date | None = None
    today: int = 0
    ever: int = 0

    def hits_on(self, day: date) -> int:
        return self.today if day == self.day else 0

    def add(self, day: date) -> None:
        self.today = self.hits_on(day) + 1
        self.day = day
        self.ever += 1


@dataclass
class MemberReplay:
    member: Member
    program: ProgramSnapshot
    ids: IdAllocator
    rows: ChunkRows
    now: datetime
    # Lots that are neither empty nor expired as of the latest call; calls come in time order, so a
    # lot dropped from here is never needed again and long histories stay cheap to search.
    open_growth_lots: list[GrowthEntryRow] = field(default_factory=list)
    open_points_lots: list[PointsEntryRow] = field(default_factory=list)
    points_lots: list[PointsEntryRow] = field(default_factory=list)
    orders: dict[str, planner.Order] = field(default_factory=dict)
    rule_counts: dict[int, RuleCount] = field(default_factory=dict)
    points_total: int = 0
    events_recorded: int = 0
    # A return's floor (as loyalty.services.tiers.return_floor): the tier held before the unbroken
    # run of earned tier moves that led to the current tier, None when the latest move was not earned.
    earned_moves_floor: Tier | None = None
    # The lots with an expiry, by the run of the expiry job that will find them due: (that run's
    # time, the job's order in the night, lot id, lot).
    due_lots: list[tuple[datetime, int, int, GrowthEntryRow | PointsEntryRow]] = field(default_factory=list)
    jobs_ran_until: datetime | None = None

    def enrol(self) -> None:
        """As loyalty.services.enrol_member: the lowest tier from `joined_at`, with its tier change."""
        member = self.member
        member.tier = self.program.lowest_tier
        member.tier_since = member.joined_at
        self.rows.add(Member, member)
        self._add_tier_change(None, member.tier, TierChange.Reason.ENROLMENT, member.joined_at, event=None)
        self.jobs_ran_until = member.joined_at

    # --- record_event ------------------------------------------------------------------------------

    def record(
        self,
        event_type: str,
        at: datetime,
        *,
        amount: Decimal | None = None,
        order_id: str = "",
        original_order_id: str = "",
        data: dict | None = None,
    ) -> EventRow:
        """As record_event at `at`: the engine's plan (loyalty.planner), written as rows."""
        member = self.member
        tier_before = member.tier
        event = self._store_event(event_type, at, amount, order_id, original_order_id, data or {})
        facts = planner.EventFacts(event_type, at, amount, order_id, original_order_id)
        order = self.orders.get(original_order_id) if event_type == EventType.RETURN else None
        if event_type == EventType.RETURN and order is None:
            raise ValueError(f"No purchase with order_id {original_order_id!r} to return.")
        plan = planner.plan_event(
            facts,
            self._state(at),
            self.program.planner_program,
            rules=self.program.rules_by_event_type.get(event_type, ()),
            hits=self._hits,
            now=at,
            order=order,
            growth_lots=self._growth_lot_views(at),
            points_lots=self._points_lot_views(at),
            return_floor=self._return_floor(),
            contributions=contributions([member.id], [facts]),
            member_key=member.id,
        )
        self._write(plan, event)
        if event_type == EventType.PURCHASE and amount is not None:  # a purchase always has its amount
            earned = [e for e in plan.entries if isinstance(e, planner.Credit)]
            self.orders[order_id] = planner.Order(
                event_key=event.id,
                amount=amount,
                growth_earned=sum(e.amount for e in earned if e.ledger == planner.GROWTH),
                points_earned=sum(e.amount for e in earned if e.ledger == planner.POINTS),
            )
        elif plan.order is not None:
            self.orders[original_order_id] = plan.order
        event.tier_changed = plan.tier_move is not None
        event.growth_delta, event.points_delta = plan.growth_delta, plan.points_delta
        event.tier_after_id = member.tier_id
        if plan.tier_move is not None:
            self._add_tier_change(tier_before, member.tier, plan.tier_move.reason, at, event=event)
        return event

    def _state(self, at: datetime) -> planner.MemberState:
        """The member as of `at`: points pending are those of lots not available yet then (finish()
        settles the cached balances as the release job leaves them)."""
        member = self.member
        pending = sum(_left(lot) for lot in self._usable_points_lots(at) if _available_at(lot) > at)
        return planner.MemberState(
            growth_value=member.growth_value,
            points_available=self.points_total - pending,
            points_pending=pending,
            tier=member.tier,
            tier_since=member.tier_since,
            last_activity_at=member.last_activity_at,
            last_purchase_at=member.last_purchase_at,
            purchase_count=member.purchase_count,
            purchase_amount=member.purchase_amount,
        )

    def _hits(self, rule: EarningRule, day: date) -> tuple[int, int]:
        count = self.rule_counts.get(rule.id) or RuleCount()
        return count.hits_on(day), count.ever

    def _growth_lot_views(self, at: datetime) -> list[planner.Lot]:
        self.open_growth_lots = [lot for lot in self.open_growth_lots if _usable(lot, at)]
        return [planner.Lot(lot, _left(lot), lot.expires_at, lot.event_id) for lot in self.open_growth_lots]

    def _points_lot_views(self, at: datetime) -> list[planner.Lot]:
        return [
            planner.Lot(lot, _left(lot), lot.expires_at, lot.event_id, pending=_available_at(lot) > at)
            for lot in self._usable_points_lots(at)
        ]

    def _return_floor(self) -> Tier | None:
        """As loyalty.services.tiers.return_floor (a recalculation ends the run of earned moves)."""
        if self.program.settings.return_downgrade != ReturnDowngrade.IMMEDIATE:
            return None
        return self.earned_moves_floor

    def _write(self, plan: planner.EventPlan, event: EventRow) -> None:
        member, at = self.member, event.occurred_at
        for hit in plan.hits:
            self.rule_counts.setdefault(hit.rule.id, RuleCount()).add(hit.day)
            self.rows.add(
                RuleHit,
                RuleHitRow(
                    id=self.ids.take(RuleHit),
                    event_id=event.id,
                    rule_id=hit.rule.id,
                    member_id=member.id,
                    local_day=hit.day,
                    growth=hit.growth,
                    points=hit.points,
                ),
            )
        for entry in plan.entries:
            if isinstance(entry, planner.Credit):
                self._credit(entry, event)
            else:
                model, row_class, allocation = (
                    (GrowthEntry, GrowthEntryRow, GrowthAllocation)
                    if entry.ledger == planner.GROWTH
                    else (PointsEntry, PointsEntryRow, PointsAllocation)
                )
                takes = [Take(lot, amount) for lot, amount in entry.takes]
                fields = {"event_id": event.id, **reason_fields(entry.reason)}
                if entry.rule is not None:
                    fields["rule_id"] = entry.rule.id
                self._write_debit(model, row_class, allocation, takes, entry.kind, at, **fields)
        state = plan.member
        member.growth_value = state.growth_value
        self.points_total = state.points_available + state.points_pending
        member.last_activity_at, member.last_purchase_at = state.last_activity_at, state.last_purchase_at
        member.purchase_count, member.purchase_amount = state.purchase_count, state.purchase_amount
        if plan.tier_move is not None:
            member.tier, member.tier_since = state.tier, state.tier_since

    def _credit(self, entry: planner.Credit, event: EventRow) -> None:
        at = event.occurred_at
        common: dict[str, Any] = {
            "id": self.ids.take(GrowthEntry if entry.ledger == planner.GROWTH else PointsEntry),
            "member_id": self.member.id,
            "kind": entry.kind,
            "amount": entry.amount,
            "remaining": entry.amount,
            "expires_at": entry.expires_at,
            "event_id": event.id,
            "rule_id": entry.rule.id if entry.rule is not None else None,
            **reason_fields(entry.reason),
            "created_at": at,
            "recorded_at": at,
        }
        if entry.ledger == planner.GROWTH:
            growth_lot = GrowthEntryRow(**common)
            self.rows.add(GrowthEntry, growth_lot)
            self.open_growth_lots.append(growth_lot)
            self._await_expiry(growth_lot, self.program.expire_growth_at, _GROWTH_EXPIRY)
            return
        points_lot = PointsEntryRow(
            **common,
            available_at=entry.available_at,
            # As if the release job had run the moment the lot became available.
            released_at=entry.available_at if entry.available_at and entry.available_at <= self.now else None,
        )
        self.rows.add(PointsEntry, points_lot)
        self.points_lots.append(points_lot)
        self.open_points_lots.append(points_lot)
        self._await_expiry(points_lot, self.program.expire_points_at, _POINTS_EXPIRY)

    def _store_event(
        self, event_type: str, at: datetime, amount: Decimal | None, order_id: str, original_order_id: str, data: dict
    ) -> EventRow:
        self.events_recorded += 1
        event_input = EventInput(
            source=SOURCE,
            event_id=f"{self.member.external_id}-e{self.events_recorded}",
            member=self.member.external_id,
            event_type=event_type,
            occurred_at=at,
            amount=amount,
            order_id=order_id,
            original_order_id=original_order_id,
            data=data,
        )
        event = EventRow(
            id=self.ids.take(Event),
            source=SOURCE,
            event_id=event_input.event_id,
            member_id=self.member.id,
            event_type_id=event_type,
            occurred_at=at,
            amount=amount,
            order_id=order_id,
            original_order_id=original_order_id,
            data=data,
            fingerprint=event_input.fingerprint,
            recorded_at=at,
        )
        self.rows.add(Event, event)
        return event

    def _add_tier_change(
        self, from_tier: Tier | None, to_tier: Tier, reason: str, at: datetime, event: EventRow | None, period: str = ""
    ) -> None:
        if reason not in EARNED_MOVES:
            self.earned_moves_floor = None
        elif self.earned_moves_floor is None:
            self.earned_moves_floor = from_tier
        self.rows.add(
            TierChange,
            TierChangeRow(
                id=self.ids.take(TierChange),
                member_id=self.member.id,
                from_tier_id=from_tier.id if from_tier else None,
                to_tier_id=to_tier.id,
                reason=reason,
                event_id=event.id if event else None,
                growth_value=self.member.growth_value,
                created_at=at,
                period=period,
            ),
        )

    # --- spend_points ------------------------------------------------------------------------------

    def spendable_points(self, at: datetime) -> int:
        return sum(_left(lot) for lot in self._released_points_lots(at))

    def pay_with_points(self, amount: int, at: datetime, *, order_id: str) -> None:
        """As spend_points for a points payment on an order at checkout: overdue lots are expired
        first, then released lots are taken."""
        self._expire_overdue_points(at)
        lots = self._released_points_lots(at)
        if amount > sum(_left(lot) for lot in lots):
            raise ValueError(f"Cannot spend {amount} points at {at}: not that many available.")
        takes, _short = plan_consumption(_soonest_expiring_first(lots, []), amount)
        self.points_total -= self._write_debit(
            PointsEntry,
            PointsEntryRow,
            PointsAllocation,
            takes,
            PointsEntry.Kind.SPEND,
            at,
            **reason_fields(Reason(reason_codes.ORDER_PAYMENT, {"order": order_id})),
            source=SOURCE,
            reference=order_id,
        )
        self.member.last_activity_at = at

    def _expire_overdue_points(self, at: datetime) -> None:
        overdue = [lot for lot in self.points_lots if _left(lot) > 0 and _expired(lot, at)]
        for lot in sorted(overdue, key=lambda lot: (_expires_at(lot), lot.id)):
            self._expire_lot(lot, at)

    def _expire_lot(self, lot: GrowthEntryRow | PointsEntryRow, at: datetime) -> None:
        """As the expiry jobs and spend_points: one expire entry for the lot's remainder."""
        points = isinstance(lot, PointsEntryRow)
        model, row_class, reason = (
            (PointsEntry, PointsEntryRow, POINTS_EXPIRED) if points else (GrowthEntry, GrowthEntryRow, GROWTH_EXPIRED)
        )
        left = _left(lot)
        expiry = row_class(
            id=self.ids.take(model),
            member_id=self.member.id,
            kind="expire",
            amount=-left,
            created_at=at,
            recorded_at=at,
            **reason_fields(reason),
            expired_lot_id=lot.id,
        )
        self.rows.add(model, expiry)
        if points:
            self.points_total -= left
        else:
            self.member.growth_value -= left
        lot.remaining = 0

    # --- the scheduled jobs ------------------------------------------------------------------------

    def run_jobs_until(self, until: datetime) -> None:
        """What the nightly expiries and the monthly recalculation did between the previous call and
        `until`, each at its scheduled time (as loyalty.services.bulk's jobs: the lots due by then
        expire, then tiers follow growth under the downgrade policy). Release is not replayed as a
        job: a lot counts as released from its available_at."""
        since = self.jobs_ran_until
        assert since is not None, "enrol() first"
        recalculation = self._next_recalculation(since)
        while True:
            lot_due = self.due_lots[0][0] if self.due_lots else None
            if lot_due is not None and lot_due <= until and lot_due <= recalculation:
                at, _, _, lot = heapq.heappop(self.due_lots)
                if _left(lot) > 0:
                    self._expire_lot(lot, at)
                continue
            if recalculation <= until:
                self._recalculate(recalculation)
                recalculation = self._next_recalculation(recalculation)
                continue
            break
        self.jobs_ran_until = until

    def _await_expiry(self, lot: GrowthEntryRow | PointsEntryRow, job_time: time, order: int) -> None:
        """Queue the lot for the first run of its expiry job that finds it due (expires_at <= as_of)."""
        if lot.expires_at is None:
            return
        zone = self.program.zone
        day = local_day(lot.expires_at, zone)
        run = datetime.combine(day, job_time, tzinfo=zone)
        if run < lot.expires_at:
            run = datetime.combine(day + timedelta(days=1), job_time, tzinfo=zone)
        heapq.heappush(self.due_lots, (run, order, lot.id, lot))

    def _next_recalculation(self, after: datetime) -> datetime:
        """The first monthly recalculation run after `after`."""
        zone = self.program.zone
        first = local_day(after, zone).replace(day=1)
        run = datetime.combine(first, self.program.recalculate_at, tzinfo=zone)
        if run <= after:
            following = (first + timedelta(days=32)).replace(day=1)
            run = datetime.combine(following, self.program.recalculate_at, tzinfo=zone)
        return run

    def _recalculate(self, at: datetime) -> None:
        """As loyalty.services.bulk.recalculate_tiers for one member."""
        member = self.member
        target = recalculated_tier(
            self.program.ladder, member.tier, member.growth_value, self.program.settings.downgrade_policy
        )
        if target.id == member.tier_id:
            return
        before = member.tier
        member.tier, member.tier_since = target, at
        period = at.astimezone(self.program.zone).strftime(self.program.recalculation_period_format)
        self._add_tier_change(before, target, TierChange.Reason.RECALCULATION, at, event=None, period=period)

    # --- ledger ------------------------------------------------------------------------------------

    def _write_debit(
        self, entry_model, row_class, allocation_model, takes: list[Take], kind: str, at: datetime, **fields
    ) -> int:
        taken = sum(take.amount for take in takes)
        debit = row_class(
            id=self.ids.take(entry_model),
            member_id=self.member.id,
            kind=kind,
            amount=-taken,
            created_at=at,
            recorded_at=at,
            **fields,
        )
        self.rows.add(entry_model, debit)
        for take in takes:
            lot = take.lot
            assert isinstance(lot, GrowthEntryRow | PointsEntryRow)  # the lots this replay handed to the plan
            lot.remaining = _left(lot) - take.amount
            allocation = AllocationRow(
                id=self.ids.take(allocation_model), debit_id=debit.id, lot_id=lot.id, amount=take.amount
            )
            self.rows.add(allocation_model, allocation)
        return taken

    def _usable_points_lots(self, at: datetime) -> list[PointsEntryRow]:
        self.open_points_lots = [lot for lot in self.open_points_lots if _usable(lot, at)]
        return self.open_points_lots

    def _released_points_lots(self, at: datetime) -> list[PointsEntryRow]:
        return [lot for lot in self._usable_points_lots(at) if _available_at(lot) <= at]

    # --- the member row ----------------------------------------------------------------------------

    def finish(self) -> Member:
        """Settle the cached points balances from the lots' final state, as release and the audit see it."""
        member = self.member
        member.points_available = sum(_left(lot) for lot in self.points_lots if lot.released_at is not None)
        member.points_pending = sum(_left(lot) for lot in self.points_lots if lot.released_at is None)
        return member


def _left(lot: GrowthEntryRow | PointsEntryRow) -> int:
    """A lot's remainder (only debit rows have none, and they are never lots)."""
    return lot.remaining or 0


def _available_at(lot: PointsEntryRow) -> datetime:
    """When a points lot became spendable (every points lot has the moment)."""
    return lot.available_at or lot.created_at


def _expires_at(lot: PointsEntryRow) -> datetime:
    return lot.expires_at or datetime.max.replace(tzinfo=UTC)


def _expired(lot: GrowthEntryRow | PointsEntryRow, at: datetime) -> bool:
    return lot.expires_at is not None and lot.expires_at <= at


def _usable(lot: GrowthEntryRow | PointsEntryRow, at: datetime) -> bool:
    """Open, and not past its expiry: the expiry job would have emptied it (see the package docstring)."""
    return _left(lot) > 0 and not _expired(lot, at)


def _soonest_expiring_first(lots: Iterable, prefer: Sequence[Preference]) -> list[tuple[object, int]]:
    """The engine's ORDER BY: preferred lots first (in the order the preferences are given), then
    soonest expiry with never-expiring lots last, then oldest."""

    def order(lot):
        return (*(0 if preferred(lot) else 1 for preferred in prefer), lot.expires_at or NEVER, lot.id)

    return [(lot, _left(lot)) for lot in sorted(lots, key=order)]
