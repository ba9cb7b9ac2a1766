"""One member's history fed through the engine's rules in memory.

`MemberReplay` mirrors `loyalty.services.events.record_event`, `services/ledger.py` and `spend_points`
step by step, but keeps the member's lots in memory and hands its rows to a `ChunkRows` instead of
writing them one at a time. Calls must come in time order: each behaves as if the engine had been
called at that moment (see the package docstring for what that means for release and expiry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from loyalty.calculations import (
    Take,
    local_day,
    plan_consumption,
    qualifying_tier,
    reversal_due,
    rule_applies_at,
    rule_earning,
    rule_within_limits,
)
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
from loyalty.services.event_input import EventInput
from loyalty.services.ledger import POINTS_EXPIRED
from members.models import Member

from .program import ProgramSnapshot
from .rows import ChunkRows, IdAllocator
from .tables import AllocationRow, EventRow, GrowthEntryRow, PointsEntryRow, RuleHitRow, TierChangeRow

SOURCE = "demo"
# Stands in for "never expires" so that such lots sort last, as the engine's NULLS LAST does.
NEVER = datetime.max.replace(tzinfo=UTC)

Preference = Callable[[PointsEntryRow | GrowthEntryRow], bool]


@dataclass
class Order:
    """What a return needs to know about its purchase (the engine sums the same from the ledgers)."""

    event: EventRow
    amount: Decimal
    growth_earned: int
    points_earned: int
    refunded: Decimal = Decimal("0")
    growth_reversed: int = 0
    points_reversed: int = 0


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
class Credited:
    growth: int = 0
    points: int = 0


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
    orders: dict[str, Order] = field(default_factory=dict)
    rule_counts: dict[int, RuleCount] = field(default_factory=dict)
    points_total: int = 0
    events_recorded: int = 0
    spends_made: int = 0

    def enrol(self) -> None:
        """As members.services.enrol_member: the lowest tier from `joined_at`, with its tier change."""
        member = self.member
        member.tier = self.program.lowest_tier
        member.tier_since = member.joined_at
        self.rows.add(Member, member)
        self._add_tier_change(None, member.tier, TierChange.Reason.ENROLMENT, member.joined_at, event=None)

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
        member = self.member
        tier_before = member.tier
        event = self._store_event(event_type, at, amount, order_id, original_order_id, data or {})
        growth_before, points_before = member.growth_value, self.points_total
        if event_type == EventType.RETURN:
            self._reverse_order(event)
        credited = self._apply_rules(event, tier_before.points_multiplier)
        if event_type == EventType.PURCHASE:
            self.orders[order_id] = Order(event, amount, credited.growth, credited.points)
        self._update_activity(event)
        event.tier_changed = self._upgrade_if_qualified(event)
        event.growth_delta = member.growth_value - growth_before
        event.points_delta = self.points_total - points_before
        event.tier_after_id = member.tier_id
        return event

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

    def _reverse_order(self, event: EventRow) -> None:
        """Cumulative refunds reverse round-down(earned x refunded so far / order amount) in total."""
        order = self.orders[event.original_order_id]
        if event.amount > order.amount - order.refunded:
            raise ValueError(f"Refund of {event.amount} exceeds what is left of order {event.original_order_id}.")
        order.refunded += event.amount
        at, reason = event.occurred_at, f"Return on order {event.original_order_id}"
        growth_due = reversal_due(order.growth_earned, order.amount, order.refunded, order.growth_reversed)
        points_due = reversal_due(order.points_earned, order.amount, order.refunded, order.points_reversed)
        if growth_due:
            order.growth_reversed += self._debit_growth(
                growth_due, GrowthEntry.Kind.REVERSE, event, prefer=[_earned_by(order.event)], reason=reason
            )
        if points_due:
            order.points_reversed += self._debit_points(
                points_due,
                PointsEntry.Kind.REVERSE,
                at,
                lots=self._usable_points_lots(at),
                prefer=[_earned_by(order.event), _pending_at(at)],
                event_id=event.id,
                reason=reason,
            )

    def _apply_rules(self, event: EventRow, multiplier: Decimal) -> Credited:
        credited = Credited()
        day = local_day(event.occurred_at, self.program.zone)
        for rule in self.program.rules_by_event_type.get(event.event_type_id, ()):
            if not rule_applies_at(rule, event.occurred_at):
                continue
            count = self.rule_counts.setdefault(rule.id, RuleCount())
            if not rule_within_limits(rule, count.hits_on(day), count.ever):
                continue
            count.add(day)
            earning = rule_earning(rule, event.amount, multiplier)
            self.rows.add(
                RuleHit,
                RuleHitRow(
                    id=self.ids.take(RuleHit),
                    event_id=event.id,
                    rule_id=rule.id,
                    member_id=self.member.id,
                    local_day=day,
                    growth=earning.growth,
                    points=earning.points,
                ),
            )
            credited.growth += self._book_growth(event, rule, day, earning.growth)
            credited.points += self._book_points(event, rule, day, earning.points)
        return credited

    def _book_growth(self, event: EventRow, rule: EarningRule, day: date, growth: int) -> int:
        """Books the rule's growth; returns what was credited."""
        reason = rule.name or rule.code
        if growth > 0:
            self._credit_growth(growth, event, rule, day, reason)
            return growth
        if growth < 0 and self.program.deducts_growth:
            self._debit_growth(-growth, GrowthEntry.Kind.DEDUCT, event, rule_id=rule.id, reason=reason)
        return 0

    def _book_points(self, event: EventRow, rule: EarningRule, day: date, points: int) -> int:
        """Books the rule's points; returns what was credited."""
        reason = rule.name or rule.code
        if points > 0:
            self._credit_points(points, event, rule, day, reason)
            return points
        if points < 0:
            at = event.occurred_at
            self._debit_points(
                -points,
                PointsEntry.Kind.DEDUCT,
                at,
                lots=self._usable_points_lots(at),
                prefer=[_released_at(at)],
                event_id=event.id,
                rule_id=rule.id,
                reason=reason,
            )
        return 0

    def _update_activity(self, event: EventRow) -> None:
        member, at = self.member, event.occurred_at
        member.last_activity_at = max(filter(None, [member.last_activity_at, at]))
        if event.event_type_id == EventType.PURCHASE:
            member.purchase_count += 1
            member.purchase_amount += event.amount
            member.last_purchase_at = max(filter(None, [member.last_purchase_at, at]))
        elif event.event_type_id == EventType.RETURN:
            member.purchase_amount -= event.amount

    def _upgrade_if_qualified(self, event: EventRow) -> bool:
        """Earning upgrades at once; nothing here downgrades."""
        member = self.member
        target = qualifying_tier(self.program.ladder, member.growth_value)
        if target.rank <= member.tier.rank:
            return False
        self._add_tier_change(member.tier, target, TierChange.Reason.UPGRADE, event.occurred_at, event=event)
        member.tier = target
        member.tier_since = event.occurred_at
        return True

    def _add_tier_change(
        self, from_tier: Tier | None, to_tier: Tier, reason: str, at: datetime, event: EventRow | None
    ) -> None:
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
            ),
        )

    # --- spend_points ------------------------------------------------------------------------------

    def spendable_points(self, at: datetime) -> int:
        return sum(lot.remaining for lot in self._released_points_lots(at))

    def spend(self, amount: int, at: datetime, reason: str) -> None:
        """As spend_points: overdue lots are expired first, then released lots are taken."""
        self._expire_overdue_points(at)
        lots = self._released_points_lots(at)
        if amount > sum(lot.remaining for lot in lots):
            raise ValueError(f"Cannot spend {amount} points at {at}: not that many available.")
        self.spends_made += 1
        self._debit_points(
            amount,
            PointsEntry.Kind.SPEND,
            at,
            lots=lots,
            prefer=[],
            reason=reason,
            source=SOURCE,
            reference=f"{self.member.external_id}-s{self.spends_made}",
        )
        self.member.last_activity_at = at

    def _expire_overdue_points(self, at: datetime) -> None:
        overdue = [lot for lot in self.points_lots if lot.remaining > 0 and _expired(lot, at)]
        for lot in sorted(overdue, key=lambda lot: (lot.expires_at, lot.id)):
            expiry = PointsEntryRow(
                id=self.ids.take(PointsEntry),
                member_id=self.member.id,
                kind=PointsEntry.Kind.EXPIRE,
                amount=-lot.remaining,
                created_at=at,
                recorded_at=at,
                reason=POINTS_EXPIRED,
                expired_lot_id=lot.id,
            )
            self.rows.add(PointsEntry, expiry)
            self.points_total -= lot.remaining
            lot.remaining = 0

    # --- ledger ------------------------------------------------------------------------------------

    def _credit_growth(self, amount: int, event: EventRow, rule: EarningRule, day: date, reason: str) -> None:
        at = event.occurred_at
        lot = GrowthEntryRow(
            id=self.ids.take(GrowthEntry),
            member_id=self.member.id,
            kind=GrowthEntry.Kind.EARN,
            amount=amount,
            remaining=amount,
            expires_at=self.program.growth_expiry(at, day),
            event_id=event.id,
            rule_id=rule.id,
            reason=reason,
            created_at=at,
            recorded_at=at,
        )
        self.rows.add(GrowthEntry, lot)
        self.open_growth_lots.append(lot)
        self.member.growth_value += amount

    def _credit_points(self, amount: int, event: EventRow, rule: EarningRule, day: date, reason: str) -> None:
        at = event.occurred_at
        available_at = at + self.program.pending_window if event.event_type_id == EventType.PURCHASE else at
        lot = PointsEntryRow(
            id=self.ids.take(PointsEntry),
            member_id=self.member.id,
            kind=PointsEntry.Kind.EARN,
            amount=amount,
            remaining=amount,
            expires_at=self.program.points_expiry(at, day),
            available_at=available_at,
            # As if the release job had run the moment the lot became available.
            released_at=available_at if available_at <= self.now else None,
            event_id=event.id,
            rule_id=rule.id,
            reason=reason,
            created_at=at,
            recorded_at=at,
        )
        self.rows.add(PointsEntry, lot)
        self.points_lots.append(lot)
        self.open_points_lots.append(lot)
        self.points_total += amount

    def _debit_growth(
        self, amount: int, kind: str, event: EventRow, prefer: Sequence[Preference] = (), **fields
    ) -> int:
        """Takes up to `amount` growth; returns what was taken (less when the lots run short)."""
        at = event.occurred_at
        self.open_growth_lots = lots = [lot for lot in self.open_growth_lots if _usable(lot, at)]
        takes, _short = plan_consumption(_soonest_expiring_first(lots, prefer), amount)
        if not takes:
            return 0
        taken = self._write_debit(
            GrowthEntry, GrowthEntryRow, GrowthAllocation, takes, kind, at, event_id=event.id, **fields
        )
        self.member.growth_value -= taken
        return taken

    def _debit_points(
        self,
        amount: int,
        kind: str,
        at: datetime,
        *,
        lots: list[PointsEntryRow],
        prefer: Sequence[Preference],
        **fields,
    ) -> int:
        """Takes up to `amount` points from `lots`; returns what was taken."""
        takes, _short = plan_consumption(_soonest_expiring_first(lots, prefer), amount)
        if not takes:
            return 0
        taken = self._write_debit(PointsEntry, PointsEntryRow, PointsAllocation, takes, kind, at, **fields)
        self.points_total -= taken
        return taken

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
            take.lot.remaining -= take.amount
            allocation = AllocationRow(
                id=self.ids.take(allocation_model), debit_id=debit.id, lot_id=take.lot.id, amount=take.amount
            )
            self.rows.add(allocation_model, allocation)
        return taken

    def _usable_points_lots(self, at: datetime) -> list[PointsEntryRow]:
        self.open_points_lots = [lot for lot in self.open_points_lots if _usable(lot, at)]
        return self.open_points_lots

    def _released_points_lots(self, at: datetime) -> list[PointsEntryRow]:
        return [lot for lot in self._usable_points_lots(at) if lot.available_at <= at]

    # --- the member row ----------------------------------------------------------------------------

    def finish(self) -> Member:
        """Settle the cached points balances from the lots' final state, as release and the audit see it."""
        member = self.member
        member.points_available = sum(lot.remaining for lot in self.points_lots if lot.released_at is not None)
        member.points_pending = sum(lot.remaining for lot in self.points_lots if lot.released_at is None)
        return member


def _expired(lot: GrowthEntryRow | PointsEntryRow, at: datetime) -> bool:
    return lot.expires_at is not None and lot.expires_at <= at


def _usable(lot: GrowthEntryRow | PointsEntryRow, at: datetime) -> bool:
    """Open, and not past its expiry: the expiry job would have emptied it (see the package docstring)."""
    return lot.remaining > 0 and not _expired(lot, at)


def _earned_by(event: EventRow) -> Preference:
    return lambda lot: lot.event_id == event.id


def _pending_at(at: datetime) -> Preference:
    return lambda lot: lot.available_at > at


def _released_at(at: datetime) -> Preference:
    return lambda lot: lot.available_at <= at


def _soonest_expiring_first(lots: Iterable, prefer: Sequence[Preference]) -> list[tuple[object, int]]:
    """The engine's ORDER BY: preferred lots first (in the order the preferences are given), then
    soonest expiry with never-expiring lots last, then oldest."""

    def order(lot):
        return (*(0 if preferred(lot) else 1 for preferred in prefer), lot.expires_at or NEVER, lot.id)

    return [(lot, lot.remaining) for lot in sorted(lots, key=order)]
