"""The engine's side of the event planner (loyalty.planner): its inputs read from the database, and
its plan written with the ORM, one event at a time. The batch path reads and writes set-based
instead (event_batch), the demo in memory (loyalty.demo.replay); all three plan with plan_event."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Sum

from loyalty import extensions, planner
from loyalty.config import ProgramConfig
from loyalty.errors import OrderNotFound
from loyalty.models import (
    Event,
    EventType,
    GrowthAllocation,
    GrowthEntry,
    PointsAllocation,
    PointsEntry,
    RuleHit,
    TierChange,
)
from loyalty.models.program import GrowthMode
from loyalty.reasons import reason_fields
from members.db import column, concrete_field, fetch_all
from members.models import Member
from members.outbox import Occurrence, publish_many

from .tiers import return_floor

_PROGRAMS: dict[int, planner.Program] = {}


def program_of(config: ProgramConfig) -> planner.Program:
    """The planner's view of the configuration, made once per configuration version."""
    cached = _PROGRAMS.get(id(config))
    if cached is None:
        settings = config.settings
        cached = planner.Program(
            zone=settings.zone,
            pending_days=settings.pending_days,
            deducts_growth=settings.growth_mode == GrowthMode.TWO_WAY,
            growth_window=(settings.growth_window_policy, settings.growth_window_months),
            points_expiry=(settings.points_expiry_policy, settings.points_expiry_months),
            ladder=config.ladder,
        )
        _PROGRAMS.clear()  # one configuration at a time is current
        _PROGRAMS[id(config)] = cached
    return cached


def member_state(member: Member) -> planner.MemberState:
    return planner.MemberState(
        growth_value=member.growth_value,
        points_available=member.points_available,
        points_pending=member.points_pending,
        tier=member.tier,
        tier_since=member.tier_since,
        last_activity_at=member.last_activity_at,
        last_purchase_at=member.last_purchase_at,
        purchase_count=member.purchase_count,
        purchase_amount=member.purchase_amount,
    )


def set_state(member: Member, state: planner.MemberState) -> None:
    for name in planner.MemberState.__dataclass_fields__:
        setattr(member, name, getattr(state, name))


def facts_of(event: Event) -> planner.EventFacts:
    return planner.EventFacts(
        event_type=event.event_type_id,
        occurred_at=event.occurred_at,
        amount=event.amount,
        order_id=event.order_id,
        original_order_id=event.original_order_id,
    )


def may_debit(event_type: str, rules: Sequence[Any]) -> bool:
    """Whether an event needs the member's lots: a return reverses, and a rule that can deduct takes."""
    return event_type == EventType.RETURN or any(
        rule.growth < 0 or rule.points < 0 or rule.growth_per_unit < 0 or rule.points_per_unit < 0 for rule in rules
    )


def contributions(member_keys: Sequence[Any], facts: Sequence[planner.EventFacts]) -> list[tuple[Any, Any]]:
    """Each registered earning contributor with what it prepared for these events."""
    return [(c, c.prepare(member_keys, facts)) for c in extensions.earning_contributors]


# How often a writer plans its events again because a contributor's budget ran out part-way. Once
# is the rule (the second plan knows the counters, locked); more only when the second plan reached
# counters the first did not.
SETTLE_ATTEMPTS = 4


def settled(prepared: Sequence[tuple[Any, Any]], planned: Sequence[planner.Planned]) -> bool:
    """Has every contributor settled (claimed its budgets for) the planned events? False: plan them
    again, with the contexts the contributors changed."""
    replan = False
    for contributor, context in prepared:
        if contributor.settle is not None and planned:
            replan = contributor.settle(context, planned) or replan
    return not replan


def contributed_rows(
    prepared: Sequence[tuple[Any, Any]], planned: Sequence[planner.Planned]
) -> list[planner.EventRows]:
    """The contributors' own rows of the planned events, for the writer to insert with them."""
    found = []
    for contributor, context in prepared:
        if contributor.rows is not None and planned:
            rows = contributor.rows(context, planned)
            if rows is not None and rows.rows:
                found.append(rows)
    return found


def insert_event_rows(contributed: Sequence[planner.EventRows]) -> None:
    """Contributed rows of events already stored (their keys known): one INSERT from arrays each on
    PostgreSQL, bulk_create elsewhere."""
    for rows in contributed:
        if connection.vendor != "postgresql":
            rows.model.objects.bulk_create(
                rows.model(event_id=event.pk, **dict(zip(rows.fields, values, strict=True)))
                for event, *values in rows.rows
            )
            continue
        fields = [concrete_field(rows.model, name) for name in rows.fields]
        arrays = ", ".join(array_type(field) for field in fields)
        fetch_all(
            f"""INSERT INTO {rows.model._meta.db_table} (event_id, {", ".join(column(f) for f in fields)})
                SELECT * FROM unnest(%b::bigint[], {arrays}) RETURNING 1""",
            [[event.pk for event, *_ in rows.rows], *contributed_arrays(fields, rows)],
        )


def contributed_arrays(fields, rows: planner.EventRows) -> list[list[Any]]:
    """Each field's values of contributed rows as an array for `unnest`."""
    columns = zip(*(values for _, *values in rows.rows), strict=True)
    return [column_array(model_field, list(values)) for model_field, values in zip(fields, columns, strict=True)]


def column_array(model_field, values: list[Any]) -> list[Any]:
    """A field's values as `unnest` takes them. On PostgreSQL Django passes the Python values of
    fields through unchanged except JSON, which it wraps; skipping get_db_prep_save for the others
    saves most of the time of building a batch's arrays."""
    if model_field.get_internal_type() != "JSONField":
        return values
    adapt, encoder = connections[DEFAULT_DB_ALIAS].ops.adapt_json_value, model_field.encoder
    return [None if value is None else adapt(value, encoder) for value in values]


@functools.cache
def array_type(model_field) -> str:
    """The binary array placeholder of a field's values (for `unnest`)."""
    return f"%b::{model_field.db_type(connections[DEFAULT_DB_ALIAS])}[]"


def recorded(prepared: Sequence[tuple[Any, Any]], planned: Sequence[planner.Planned]) -> None:
    """The contributors' own rows of the events just written."""
    for contributor, context in prepared:
        if contributor.record is not None and planned:
            contributor.record(context, planned)


def claims_shared_counters() -> bool:
    """Whether a contributor's settle now claims counters shared between members (a campaign's
    total budget): a transaction must then not settle events of several members one after another
    (loyalty.services.events.record_events_one_by_one)."""
    return any(
        contributor.claims_shared_counters is not None and contributor.claims_shared_counters()
        for contributor in extensions.earning_contributors
    )


def contributions_json(plan: planner.EventPlan) -> list[dict[str, Any]] | None:
    """Event.contributions of a plan."""
    return [share.as_json() for share in plan.grants] or None


# --- one event, with the ORM -------------------------------------------------------------------------


def plan_one(
    event: Event, member: Member, config: ProgramConfig, now: datetime, prepared: Sequence[tuple[Any, Any]]
) -> planner.EventPlan:
    """The plan of an event just stored, from the member's state in the database (the caller holds
    the member's lock), with the contributors' `prepared` contexts."""
    facts = facts_of(event)
    rules = config.rules_for(event.event_type_id)
    needs_lots = may_debit(event.event_type_id, rules)
    return planner.plan_event(
        facts,
        member_state(member),
        program_of(config),
        rules=rules,
        hits=_stored_hits(member),
        now=now,
        order=_order(member, event) if event.event_type_id == EventType.RETURN else None,
        growth_lots=_open_lots(GrowthEntry, member) if needs_lots else None,
        points_lots=_open_lots(PointsEntry, member) if needs_lots else None,
        return_floor=return_floor(member, config.ladder) if event.event_type_id == EventType.RETURN else None,
        contributions=prepared,
        member_key=member.pk,
    )


def _stored_hits(member: Member):
    def hits(rule, day: date) -> tuple[int, int]:
        rows = RuleHit.objects.filter(member=member, rule=rule)
        today = rows.filter(local_day=day).count() if rule.daily_limit is not None else 0
        ever = rows.count() if rule.lifetime_limit is not None else 0
        return today, ever

    return hits


def _sum(queryset, field: str = "amount"):
    return queryset.aggregate(total=Sum(field))["total"] or 0


def _order(member: Member, event: Event) -> planner.Order:
    """What a return needs of its purchase, summed from the ledgers."""
    purchase = Event.objects.filter(
        member=member, event_type=EventType.PURCHASE, order_id=event.original_order_id
    ).first()
    if purchase is None:
        raise OrderNotFound(f"Member {member.external_id} has no purchase with order_id {event.original_order_id!r}.")
    returns = Event.objects.filter(member=member, event_type=EventType.RETURN, original_order_id=purchase.order_id)
    earlier = returns.exclude(pk=event.pk)
    return planner.Order(
        event_key=purchase.pk,
        amount=purchase.amount or Decimal(0),  # a purchase always has its amount
        growth_earned=_sum(GrowthEntry.objects.filter(event=purchase, amount__gt=0)),
        points_earned=_sum(PointsEntry.objects.filter(event=purchase, amount__gt=0)),
        refunded=Decimal(_sum(earlier)),
        growth_reversed=-_sum(GrowthEntry.objects.filter(event__in=earlier, kind=GrowthEntry.Kind.REVERSE)),
        points_reversed=-_sum(PointsEntry.objects.filter(event__in=earlier, kind=PointsEntry.Kind.REVERSE)),
    )


def _open_lots(model, member: Member) -> list[planner.Lot]:
    rows = model.objects.filter(member=member, remaining__gt=0).order_by("id")
    return [
        planner.Lot(
            key=row,
            remaining=row.remaining,
            expires_at=row.expires_at,
            earned_by=row.event_id,
            pending=getattr(row, "released_at", True) is None,
        )
        for row in rows
    ]


def write_plan(plan: planner.EventPlan, *, event: Event, member: Member, now: datetime) -> None:
    """The plan's rows, in the plan's order, and the member's new state (not saved: the caller saves)."""
    RuleHit.objects.bulk_create(
        RuleHit(event=event, rule=h.rule, member=member, local_day=h.day, growth=h.growth, points=h.points)
        for h in plan.hits
    )
    for entry in plan.entries:
        if isinstance(entry, planner.Credit):
            lot_row(entry, member=member, event=event, now=now).save(force_insert=True)
        else:
            _write_debit(entry, member=member, event=event)
    if plan.tier_move is not None:
        move = plan.tier_move
        TierChange.objects.create(
            member=member,
            from_tier=member.tier,
            to_tier=move.to,
            reason=move.reason,
            event=event,
            growth_value=plan.member.growth_value,
            note=move.note,
            created_at=now,
        )
    set_state(member, plan.member)
    publish_many(occurrences(plan, event))


def occurrences(plan: planner.EventPlan, event: Event) -> list[Occurrence]:
    """The plan's domain events for the outbox, each naming the event that made it."""
    about = {"event_id": event.event_id, "source": event.source}
    return [
        Occurrence(event_type, {**payload, **about}, event.member_id, event.occurred_at)
        for event_type, payload in plan.published
    ]


def lot_row(entry: planner.Credit, *, member: Member, event: Event, now: datetime) -> GrowthEntry | PointsEntry:
    """A credit as a ledger row, not saved."""
    model, values = lot_values(entry, member=member, event=event, now=now)
    return model(**vars(values))


def lot_values(
    entry: planner.Credit, *, member: Member, event: Event, now: datetime
) -> tuple[type[GrowthEntry] | type[PointsEntry], SimpleNamespace]:
    """A credit's ledger row as plain values (an attribute per column, and `event`), for a batch's
    arrays: making model instances took most of a batch's Python time (each field's default looked
    up, each foreign key set through its descriptor)."""
    model: type[GrowthEntry] | type[PointsEntry] = GrowthEntry if entry.ledger == planner.GROWTH else PointsEntry
    values = dict(_column_defaults(model))
    values.update(
        member_id=member.pk,
        kind=entry.kind,
        amount=entry.amount,
        remaining=entry.amount,
        created_at=event.occurred_at,
        recorded_at=now,
        expires_at=entry.expires_at,
        rule_id=entry.rule.pk if entry.rule is not None else None,
        event=event,
        **reason_fields(entry.reason),
    )
    if model is PointsEntry:
        values.update(available_at=entry.available_at, released_at=now if entry.released else None)
    return model, SimpleNamespace(**values)


@functools.cache
def _column_defaults(model) -> dict[str, Any]:
    """The columns of a ledger model with a constant default. Those with a computed one (the times)
    lot_values must set: a batch's arrays read every column and fail on one it left out."""
    return {
        f.attname: f.get_default()
        for f in model._meta.concrete_fields
        if f.name != "event" and not (f.has_default() and callable(f.default))
    }


def _write_debit(entry: planner.Debit, *, member: Member, event: Event) -> None:
    model, allocation = (
        (GrowthEntry, GrowthAllocation) if entry.ledger == planner.GROWTH else (PointsEntry, PointsAllocation)
    )
    debit = model.objects.create(
        member=member,
        kind=entry.kind,
        amount=-entry.amount,
        created_at=event.occurred_at,
        event=event,
        rule=entry.rule,
        **reason_fields(entry.reason),
    )
    lots = []
    for lot, taken in entry.takes:
        lot.remaining -= taken
        lots.append(lot)
    model.objects.bulk_update(lots, ["remaining"])
    allocation.objects.bulk_create(
        allocation(debit=debit, lot=lot, amount=taken)  # type: ignore[misc]  # growth with growth, points with points
        for lot, taken in entry.takes
    )
