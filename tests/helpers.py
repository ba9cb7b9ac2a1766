"""Shared test helpers: fixed local times, recording events, and the ledger integrity check."""

from __future__ import annotations

import importlib
import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Sum

from loyalty.models import Event, GrowthAllocation, GrowthEntry, PointsAllocation, PointsEntry, RuleHit
from loyalty.services import record_event
from members.models import Member

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")

# A fixed, past moment for events whose exact time does not matter.
DAY = datetime(2026, 6, 1, 12, 0, tzinfo=SHANGHAI)

_ids = itertools.count(1)


def local(year, month, day, hour=0, minute=0, second=0) -> datetime:
    """An aware datetime in the default program time zone (Asia/Shanghai)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def ensure_default_program() -> None:
    """Create the default program of migration 0003 if it is missing (transactional tests flush it)."""
    migration = importlib.import_module("loyalty.migrations.0003_default_program")
    migration.create_default_program(apps, None)


def record(member: Member, event_type: str, *, occurred_at: datetime = DAY, source: str = "shop", **fields):
    """Record an event for `member` with a fresh event_id (unless one is given)."""
    fields.setdefault("event_id", f"evt-{next(_ids)}")
    return record_event(
        source=source, member=member.external_id, event_type=event_type, occurred_at=occurred_at, **fields
    )


def purchase(member: Member, amount, *, order_id: str | None = None, **fields):
    return record(member, "purchase", amount=amount, order_id=order_id or f"order-{next(_ids)}", **fields)


def refund(member: Member, order_id: str, amount, **fields):
    return record(member, "return", amount=amount, original_order_id=order_id, **fields)


def _total(queryset, field: str = "amount") -> int:
    return queryset.aggregate(total=Sum(field))["total"] or 0


def ledger_counts() -> dict[str, int]:
    """How many rows each engine table holds: to assert that a refused request wrote nothing."""
    return {
        "events": Event.objects.count(),
        "rule_hits": RuleHit.objects.count(),
        "growth": GrowthEntry.objects.count(),
        "points": PointsEntry.objects.count(),
        "growth_allocations": GrowthAllocation.objects.count(),
        "points_allocations": PointsAllocation.objects.count(),
    }


def assert_ledger_consistent(member: Member) -> None:
    """The cached balances equal the ledgers, and every lot's consumption is proved by allocations."""
    member.refresh_from_db()
    growth = GrowthEntry.objects.filter(member=member)
    growth_lots = growth.filter(amount__gt=0)
    assert member.growth_value == _total(growth), "growth_value != sum of growth entries"
    assert member.growth_value == _total(growth_lots, "remaining"), "growth_value != sum of lot remainders"

    points = PointsEntry.objects.filter(member=member)
    points_lots = points.filter(amount__gt=0)
    released = _total(points_lots.filter(released_at__isnull=False), "remaining")
    pending = _total(points_lots.filter(released_at__isnull=True), "remaining")
    assert member.points_available == released, "points_available != remaining of released lots"
    assert member.points_pending == pending, "points_pending != remaining of pending lots"
    assert member.points_available + member.points_pending == _total(points), "points != sum of points entries"

    for lot in growth_lots:
        assert lot.amount - lot.remaining == _total(GrowthAllocation.objects.filter(lot=lot)), f"growth lot {lot.pk}"
    for lot in points_lots:
        assert lot.amount - lot.remaining == _total(PointsAllocation.objects.filter(lot=lot)), f"points lot {lot.pk}"
    for debit in growth.filter(amount__lt=0):
        assert -debit.amount == _total(GrowthAllocation.objects.filter(debit=debit)), f"growth debit {debit.pk}"
    for debit in points.filter(amount__lt=0):
        assert -debit.amount == _total(PointsAllocation.objects.filter(debit=debit)), f"points debit {debit.pk}"
