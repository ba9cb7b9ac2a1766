"""Points and growth credited to many members at once, set-based: what a benefit or a campaign's
grant gives. The caller holds the members' locks and has decided who gets what; this writes the
lots, the cached balances, the upgrades the growth earns at once (as earning does) and the domain
events, in a constant number of statements per distinct amount."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from loyalty.calculations import expiry_at, qualifying_tier
from loyalty.models import GrowthEntry, PointsEntry, ProgramSettings, Tier, TierChange
from loyalty.reason_codes import Reason
from loyalty.reasons import reason_fields, stored_text
from members.db import fetch_all
from members.models import Member
from members.outbox import Occurrence, publish_many

from . import ledger


@dataclass(frozen=True)
class BulkCredit:
    """What one member is given: `details` are added to the points.earned and growth.changed payloads
    (what gave it, such as {"benefit": "gold-monthly"})."""

    member_id: int
    points: int
    growth: int
    reason: Reason
    details: Mapping[str, Any] = field(default_factory=dict)
    # The reason as stored, when the caller knows it is the same for many credits whose parameters
    # differ only by an id (a campaign's grants): rendered once rather than per member.
    text: str | None = None


def credit_many(credits: Sequence[BulkCredit], *, at: datetime, program: ProgramSettings) -> int:
    """The credits' lots (spendable at once), balances, upgrades and events. Returns the rows written
    (lots and tier changes)."""
    with_points = [c for c in credits if c.points > 0]
    with_growth = [c for c in credits if c.growth > 0]
    written = _credit_points(with_points, at, program) + _credit_growth(with_growth, at, program)
    return written


def _by_amount(credits: Sequence[BulkCredit], amount_of) -> dict[int, list[int]]:
    grouped: defaultdict[int, list[int]] = defaultdict(list)
    for credit in credits:
        grouped[amount_of(credit)].append(credit.member_id)
    return grouped


def _credit_points(credits: Sequence[BulkCredit], at: datetime, program: ProgramSettings) -> int:
    if not credits:
        return 0
    expires_at = ledger.points_expiry(program, at)
    if connection.vendor == "postgresql":
        _points_in_one_statement(credits, at, expires_at)
    else:
        PointsEntry.objects.bulk_create(
            PointsEntry(
                member_id=c.member_id,
                kind=PointsEntry.Kind.EARN,
                amount=c.points,
                remaining=c.points,
                created_at=at,
                expires_at=expires_at,
                available_at=at,
                released_at=at,
                **reason_fields(c.reason),
            )
            for c in credits
        )
        for amount, member_ids in _by_amount(credits, lambda c: c.points).items():
            Member.objects.filter(pk__in=member_ids).update(
                points_available=F("points_available") + amount, updated_at=timezone.now()
            )
    publish_many(
        [
            Occurrence("points.earned", {"points": c.points, "pending": False, **c.details}, c.member_id, at)
            for c in credits
        ]
    )
    return len(credits)


def _points_in_one_statement(credits: Sequence[BulkCredit], at: datetime, expires_at: datetime | None) -> None:
    """The lots from arrays and the members' balances from their sums, in one statement: a grant to a
    million members built a million model instances and had Django render every value as a
    parameter of its own (90% of the grant's time)."""
    lots, members = PointsEntry._meta.db_table, Member._meta.db_table
    fetch_all(
        f"""WITH c AS (SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::text[])
                       AS c(m, p, r, code, params)),
                 lots AS (INSERT INTO {lots} (member_id, kind, amount, remaining, created_at, recorded_at, expires_at,
                                              available_at, released_at, reason, reason_code, reason_params,
                                              source, reference)
                          SELECT m, %s, p, p, %s, %s, %s, %s, %s, r, code, params::jsonb, '', '' FROM c)
            UPDATE {members} SET points_available = {members}.points_available + s.p, updated_at = %s
            FROM (SELECT m, sum(p) AS p FROM c GROUP BY m) AS s WHERE {members}.id = s.m
            RETURNING {members}.id""",
        [
            [c.member_id for c in credits],
            [c.points for c in credits],
            [c.text if c.text is not None else stored_text(c.reason) for c in credits],
            [c.reason.code for c in credits],
            [json.dumps(dict(c.reason.params)) if c.reason.params else None for c in credits],
            PointsEntry.Kind.EARN,
            at,
            timezone.now(),
            expires_at,
            at,
            at,
            timezone.now(),
        ],
    )


def _credit_growth(credits: Sequence[BulkCredit], at: datetime, program: ProgramSettings) -> int:
    """Growth lots, then the upgrades they earn at once: one tier change per member that reaches a
    higher tier, one UPDATE per target tier."""
    if not credits:
        return 0
    expires_at = expiry_at(program.growth_window_policy, program.growth_window_months, at, program.zone)
    GrowthEntry.objects.bulk_create(
        GrowthEntry(
            member_id=c.member_id,
            kind=GrowthEntry.Kind.EARN,
            amount=c.growth,
            remaining=c.growth,
            created_at=at,
            expires_at=expires_at,
            **reason_fields(c.reason),
        )
        for c in credits
    )
    for amount, member_ids in _by_amount(credits, lambda c: c.growth).items():
        Member.objects.filter(pk__in=member_ids).update(
            growth_value=F("growth_value") + amount, updated_at=timezone.now()
        )
    ladder = list(Tier.objects.order_by("rank"))
    rank = {tier.pk: tier.rank for tier in ladder}
    notes = {c.member_id: reason_fields(c.reason)["reason"] for c in credits}
    upgrades: dict[Tier, list[tuple[int, int, int]]] = defaultdict(list)
    for member_id, tier_id, growth in Member.objects.filter(pk__in=list(notes)).values_list(
        "pk", "tier_id", "growth_value"
    ):
        target = qualifying_tier(ladder, growth)
        if target.rank > rank[tier_id]:
            upgrades[target].append((member_id, tier_id, growth))
    changes = [
        TierChange(
            member_id=member_id,
            from_tier_id=tier_id,
            to_tier=target,
            reason=TierChange.Reason.UPGRADE,
            growth_value=growth,
            note=notes[member_id],
            created_at=at,
        )
        for target, moves in upgrades.items()
        for member_id, tier_id, growth in moves
    ]
    TierChange.objects.bulk_create(changes)
    for target, moves in upgrades.items():
        Member.objects.filter(pk__in=[m for m, _, _ in moves]).update(tier=target, tier_since=at)
    code = {tier.pk: tier.code for tier in ladder}
    publish_many(
        [
            Occurrence("growth.changed", {"growth": c.growth, "kind": "earn", **c.details}, c.member_id, at)
            for c in credits
        ]
        + [
            Occurrence(
                "tier.upgraded",
                {"from": code[tier_id], "to": target.code, "reason": TierChange.Reason.UPGRADE},
                member_id,
                at,
            )
            for target, moves in upgrades.items()
            for member_id, tier_id, _growth in moves
        ]
    )
    return len(credits) + len(changes)
