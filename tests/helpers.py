"""Shared test helpers: fixed local times, recording events, and the ledger integrity check."""

from __future__ import annotations

import importlib
import itertools
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Sum

from loyalty.models import Event, GrowthAllocation, GrowthEntry, PointsAllocation, PointsEntry, RuleHit
from loyalty.services import record_event
from members.models import Member
from tests.factories import UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")

# A fixed, past moment for events whose exact time does not matter.
DAY = datetime(2026, 6, 1, 12, 0, tzinfo=SHANGHAI)

_ids = itertools.count(1)


def local(year, month, day, hour=0, minute=0, second=0) -> datetime:
    """An aware datetime in the default program time zone (Asia/Shanghai)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


DEFAULT_PROGRAM_FILE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "default-program.json"


def ensure_default_program() -> None:
    """A fresh install's program when it is missing (transactional tests flush it): the built-in
    event types, then the program file a fresh install exports (docs/examples/default-program.json,
    kept equal to it by tests/loyalty/test_program_file.py): settings, tiers, rules and the reward catalog."""
    from loyalty.models import BUILTIN_EVENT_TYPES, EventType, ProgramSettings, Tier
    from loyalty.program_file import parse_program
    from loyalty.services.program import apply_program

    if Tier.objects.exists():
        return
    for code, name in BUILTIN_EVENT_TYPES.items():
        EventType.objects.update_or_create(code=code, defaults={"name": name, "is_builtin": True})
    ProgramSettings.current()
    apply_program(document=parse_program(json.loads(DEFAULT_PROGRAM_FILE.read_text())))


def staff_with(*permissions: str):
    """A staff user holding exactly these permissions ("app_label.codename"), fresh from the database
    (permissions are cached per instance)."""
    user = UserFactory()
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return get_user_model().objects.get(pk=user.pk)


def ensure_staff_roles() -> None:
    """The staff roles of loyalty migrations 0013, 0019, 0021 and 0024 and campaigns 0009
    (transactional tests flush them)."""
    from types import SimpleNamespace

    from django.db import connection

    for name in (
        "loyalty.migrations.0013_staff_roles",
        "loyalty.migrations.0019_action_permissions_for_roles",
        "loyalty.migrations.0021_outbox_relay",
        "loyalty.migrations.0024_member_notes_for_roles",
        "campaigns.migrations.0009_roles",
    ):
        migration = importlib.import_module(name)
        create = getattr(migration, "create_roles", None) or migration.grant
        create(apps, SimpleNamespace(connection=connection))


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
    """loyalty_audit's checks, for this member: cached balances equal the ledgers, and every lot's
    consumption is proved by allocations and its expire entry."""
    from loyalty.audit import audit

    member.refresh_from_db()
    assert [f for f in audit() if f.subject == member.external_id] == []
