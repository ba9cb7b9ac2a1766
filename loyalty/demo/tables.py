"""Light row objects for the high-volume tables: a Django model instance costs about ten times more
to build than a slotted dataclass, and the generator builds millions of them. Attribute names are
the models' attnames, which is all the writer needs; columns a row class leaves out get the
field's default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(slots=True)
class EventRow:
    id: int
    source: str
    event_id: str
    member_id: int
    event_type_id: str
    occurred_at: datetime
    amount: Decimal | None
    order_id: str
    original_order_id: str
    data: dict
    fingerprint: str
    recorded_at: datetime
    growth_delta: int = 0
    points_delta: int = 0
    tier_after_id: int | None = None
    tier_changed: bool = False


@dataclass(slots=True)
class RuleHitRow:
    id: int
    event_id: int
    rule_id: int
    member_id: int
    local_day: date
    growth: int
    points: int


@dataclass(slots=True)
class GrowthEntryRow:
    id: int
    member_id: int
    kind: str
    amount: int
    created_at: datetime
    recorded_at: datetime
    reason: str
    reason_code: str = ""
    reason_params: dict | None = None
    event_id: int | None = None
    rule_id: int | None = None
    remaining: int | None = None  # lots only
    expires_at: datetime | None = None  # lots only
    expired_lot_id: int | None = None  # expire entries only


@dataclass(slots=True)
class PointsEntryRow:
    id: int
    member_id: int
    kind: str
    amount: int
    created_at: datetime
    recorded_at: datetime
    reason: str
    reason_code: str = ""
    reason_params: dict | None = None
    event_id: int | None = None
    rule_id: int | None = None
    remaining: int | None = None  # lots only
    expires_at: datetime | None = None  # lots only
    available_at: datetime | None = None  # lots only
    released_at: datetime | None = None  # lots only; empty = pending
    source: str = ""  # spends only
    reference: str = ""  # spends only
    expired_lot_id: int | None = None  # expire entries only


@dataclass(slots=True)
class AllocationRow:
    """A GrowthAllocation or a PointsAllocation: how much a debit took from one lot."""

    id: int
    debit_id: int
    lot_id: int
    amount: int


@dataclass(slots=True)
class TierChangeRow:
    id: int
    member_id: int
    from_tier_id: int | None
    to_tier_id: int
    reason: str
    event_id: int | None
    growth_value: int
    created_at: datetime
    period: str = ""  # recalculations only
    note: str = ""
