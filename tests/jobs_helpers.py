"""Helpers for the scheduled-job tests: whole-database snapshots and per-member ledger views."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from loyalty.models import (
    GrowthAllocation,
    GrowthEntry,
    JobChunk,
    JobRun,
    PointsAllocation,
    PointsEntry,
    TierChange,
)
from members.models import Member


def database_state() -> dict:
    """Everything a job may write, row by row: to assert that a call wrote nothing."""
    return {
        "members": list(
            Member.objects.order_by("pk").values_list(
                "pk", "tier_id", "tier_since", "growth_value", "points_available", "points_pending", "updated_at"
            )
        ),
        "points": list(PointsEntry.objects.order_by("pk").values_list("pk", "amount", "remaining", "released_at")),
        "growth": list(GrowthEntry.objects.order_by("pk").values_list("pk", "amount", "remaining")),
        "points_allocations": PointsAllocation.objects.count(),
        "growth_allocations": GrowthAllocation.objects.count(),
        "tier_changes": list(TierChange.objects.order_by("pk").values_list("pk", "to_tier_id")),
        "job_runs": list(
            JobRun.objects.order_by("pk").values_list(
                "pk", "status", "as_of", "chunks_done", "members_changed", "entries_written"
            )
        ),
        "job_chunks": list(JobChunk.objects.order_by("pk").values_list("pk", "done", "attempts", "finished_at")),
    }


def balances(member: Member) -> tuple[int, int, int]:
    """(growth_value, points_available, points_pending), fresh from the database."""
    member.refresh_from_db()
    return member.growth_value, member.points_available, member.points_pending


def expire_entries(model, member: Member | None = None):
    entries = model.objects.filter(kind="expire")
    return entries.filter(member=member) if member is not None else entries


# The reason as written (the API's text) and as a code with parameters (the admin's).
REASON = ("reason", "reason_code", "reason_params")


def _comparable(reason: list) -> tuple:
    text, code, params = reason
    return text, code, json.dumps(params, sort_keys=True)


def points_rows(member: Member, job_time: datetime) -> Counter:
    """The member's points ledger as a multiset of what a job's result depends on: for lots the
    remainder, expiry and whether they are released; what a job wrote (at or after `job_time`, when
    the services write at the real now) with its time: lots' released_at, expire entries' created_at."""
    rows = PointsEntry.objects.filter(member=member)
    return Counter(
        (
            kind,
            amount,
            remaining,
            expires_at,
            released_at if released_at is not None and released_at >= job_time else released_at is not None,
            created_at if kind == "expire" and created_at >= job_time else None,
            *_comparable(reason),
        )
        for kind, amount, remaining, expires_at, released_at, created_at, *reason in rows.values_list(
            "kind", "amount", "remaining", "expires_at", "released_at", "created_at", *REASON
        )
    )


def growth_rows(member: Member, job_time: datetime) -> Counter:
    rows = GrowthEntry.objects.filter(member=member)
    return Counter(
        (
            kind,
            amount,
            remaining,
            expires_at,
            created_at if kind == "expire" and created_at >= job_time else None,
            *_comparable(reason),
        )
        for kind, amount, remaining, expires_at, created_at, *reason in rows.values_list(
            "kind", "amount", "remaining", "expires_at", "created_at", *REASON
        )
    )


def recalculations(member: Member) -> list[tuple[str, str, str, int, datetime]]:
    """The member's scheduled tier changes: (from, to, period, growth value, when), oldest first."""
    changes = TierChange.objects.filter(member=member, reason=TierChange.Reason.RECALCULATION).order_by("pk")
    return list(changes.values_list("from_tier__code", "to_tier__code", "period", "growth_value", "created_at"))
