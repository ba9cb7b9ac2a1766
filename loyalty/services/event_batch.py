"""Recording a batch of events set-based: the path behind `POST events/batch/` and, as a batch of
one, `POST events/`.

Most events only earn (purchases, check-ins, reviews). What they write depends on the member's
cached balances, tier and rule-hit counts, never on individual lots, so for those the batch reads
what it needs in a handful of queries, applies the same pure rules as `record_event` in memory, and
writes all its rows in one statement (on PostgreSQL; bulk inserts elsewhere). The set-based events
are committed in transactions of about SET_BASED_CHUNK events, each member's events in one of them.
A member with an event that needs lots (a return, a rule that can deduct) or that shares its event_id
with another event of the batch has all of their events recorded one by one through `record_event`
instead, after the set-based part has committed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from django.db import (
    DataError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Case, Count, F, Q, When
from django.utils import timezone

from loyalty import planner
from loyalty.calculations import local_day
from loyalty.config import ProgramConfig, current_config
from loyalty.errors import DuplicateOrder, IdempotencyConflict, ServiceUnavailable, UnknownEventType
from loyalty.models import EarningRule, Event, EventType, GrowthEntry, PointsEntry, RuleHit, TierChange
from members.db import column, concrete_field, fetch_all
from members.errors import LoyaltyError, MemberNotFound
from members.models import Member
from members.outbox import Occurrence, identified_arrays_of, identified_ctes, publish_many
from members.selectors import member_columns, member_from_row

from .event_input import EventInput
from .event_plans import (
    SETTLE_ATTEMPTS,
    array_type,
    column_array,
    contributed_arrays,
    contributed_rows,
    contributions,
    contributions_json,
    facts_of,
    insert_event_rows,
    lot_values,
    may_debit,
    member_state,
    occurrences,
    program_of,
    recorded,
    set_state,
    settled,
)
from .events import (
    EVENT_MEMBER_FIELDS,
    EventOutcome,
    check_age,
    check_shape,
    parse_event_body,
    record_events_one_by_one,
)
from .members_guard import check_can_transact

Result = EventOutcome | LoyaltyError


def record_events(*, source: str, events: list[Any]) -> list[Result]:
    """Record a batch. Returns, in the given order, each event's outcome or the error that refused
    it; one refused event changes nothing and does not stop the others. Replays of events already
    recorded come back as outcomes with `applied=False`, exactly as from `record_event`."""
    now = timezone.now()
    config = current_config()
    results: list[Result | None] = [None] * len(events)
    parsed: dict[int, EventInput] = {}
    for index, item in enumerate(events):
        try:
            parsed[index] = parse_event_body(source=source, body=item, now=now)
        except LoyaltyError as error:
            results[index] = error

    repeated_ids = {eid for eid, n in Counter(e.event_id for e in parsed.values()).items() if n > 1}
    # A member with an event that needs lots (a return, a rule that can deduct) is recorded event by event.
    slow_members = {
        e.member
        for e in parsed.values()
        if e.event_id in repeated_ids or may_debit(e.event_type, config.rules_for(e.event_type))
    }
    set_based = {i: e for i, e in parsed.items() if e.member not in slow_members}
    try:
        for chunk in _member_chunks(set_based):
            try:
                for index, result in _record_set_based(source, chunk, config, now).items():
                    results[index] = result
            except (IntegrityError, NotSupportedError, DataError, OverflowError):
                # A concurrent request wrote one of these event ids first, (NotSupportedError) a
                # migration changed a column a prepared statement returns, or (DataError,
                # OverflowError) a value the database or its driver refused, such as a balance beyond
                # 64 bits. Nothing of this chunk was written; the one-by-one path sorts it out event
                # by event.
                pass
    except OperationalError:
        pass  # the database stopped answering: what is left is refused below, to be sent again
    else:
        remaining = [i for i in parsed if results[i] is None]
        if remaining:
            one_by_one = record_events_one_by_one(source=source, events=events, indexes=remaining)
            for index, result in one_by_one.items():
                results[index] = result
    return _refuse_the_unanswered(results)


def _refuse_the_unanswered(results: list[Result | None]) -> list[Result]:
    """After the database stopped answering part-way, what committed stays committed and is reported,
    and every event not recorded is refused on its own as service_unavailable, to be sent again
    (replays of the committed ones come back as duplicates). Only when the batch stored nothing is
    the whole batch refused."""
    if all(result is not None for result in results):
        return results  # type: ignore[return-value]
    if not any(isinstance(result, EventOutcome) and result.applied for result in results):
        raise ServiceUnavailable("The database did not answer in time; nothing was stored. Send the batch again.")
    return [
        ServiceUnavailable("The database did not answer in time; send this event again.") if result is None else result
        for result in results
    ]


# Events per set-based transaction. A transaction holds its members' row locks until it commits, and
# concurrent batches of random members nearly always share some: with the whole batch in one
# transaction they ran one after the other. Smaller transactions release their members sooner (and
# let a concurrent batch follow behind, both locking in id order); each costs ~5 more queries.
SET_BASED_CHUNK = 250


def _member_chunks(parsed: dict[int, EventInput]) -> list[dict[int, EventInput]]:
    """`parsed` cut into chunks of about SET_BASED_CHUNK events, each member's events in one chunk
    (their rule-hit counts, orders and balances build on each other) and in their batch order."""
    by_member: dict[str, dict[int, EventInput]] = defaultdict(dict)
    for index, event_input in parsed.items():
        by_member[event_input.member][index] = event_input
    chunks: list[dict[int, EventInput]] = []
    current: dict[int, EventInput] = {}
    for member in sorted(by_member):
        current.update(by_member[member])
        if len(current) >= SET_BASED_CHUNK:
            chunks.append(current)
            current = {}
    if current:
        chunks.append(current)
    return chunks


def record_storefront_event(*, source: str, body: Any) -> EventOutcome:
    """`record_event_body` for `POST events/`: an earning event is recorded the set-based way, as a
    batch of one (no save() per row, no second UPDATE of the event, one statement for all writes);
    a return or a deducting rule goes through `record_event`. Raises the error that refused it."""
    result = record_events(source=source, events=[body])[0]
    if isinstance(result, LoyaltyError):
        raise result
    return result


@dataclass
class _Rows:
    events: list[Event] = field(default_factory=list)
    rule_hits: list[RuleHit] = field(default_factory=list)
    growth: list[SimpleNamespace] = field(default_factory=list)  # event_plans.lot_values
    points: list[SimpleNamespace] = field(default_factory=list)
    tier_changes: list[TierChange] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    published: list[Occurrence] = field(default_factory=list)
    planned: list[planner.Planned] = field(default_factory=list)
    contributed: list[planner.EventRows] = field(default_factory=list)


@transaction.atomic
def _record_set_based(
    source: str, parsed: dict[int, EventInput], config: ProgramConfig, now: datetime
) -> dict[int, Result]:
    if not parsed:
        return {}
    prepare = len(parsed) == 1
    members = _lock_members({e.member for e in parsed.values()}, prepare)
    earlier, reported_orders = _earlier_events(source, parsed.values(), members, prepare)
    hits = _RuleHitCounts.load(members.values(), parsed.values(), config, now, prepare)
    prepared = contributions(
        [member.pk for member in members.values()],
        [
            planner.EventFacts(e.event_type, e.occurred_at or now, e.amount, e.order_id, e.original_order_id)
            for e in parsed.values()
        ],
    )

    # A contributor whose budget ran out part-way has the chunk planned again from the same start.
    attnames = [concrete_field(Member, name).attname for name in EVENT_MEMBER_FIELDS]
    starting_states = {m.pk: [getattr(m, name) for name in attnames] for m in members.values()}
    starting_hits = hits.copy()
    starting_orders = set(reported_orders)
    for _attempt in range(SETTLE_ATTEMPTS):
        rows = _Rows()
        results: dict[int, Result] = {}
        for index in sorted(parsed, key=lambda i: (_member_order(members, parsed[i]), i)):
            event_input = parsed[index]
            member = members.get(event_input.member)
            try:
                results[index] = _apply(
                    event_input,
                    member,
                    earlier.get(event_input.event_id),
                    reported_orders,
                    hits,
                    config,
                    rows,
                    now,
                    prepared,
                )
            except LoyaltyError as error:
                results[index] = error
        if settled(prepared, rows.planned):
            break
        for member in members.values():
            for name, value in zip(attnames, starting_states[member.pk], strict=True):
                setattr(member, name, value)
        hits = starting_hits.copy()
        reported_orders = set(starting_orders)
    else:
        raise RuntimeError("The earning contributors did not settle the batch.")
    rows.contributed = contributed_rows(prepared, rows.planned)
    _write(rows, now, prepare)
    recorded(prepared, rows.planned)
    return results


# The set-based path's reads on PostgreSQL are plain SQL: for a single API event, compiling the three
# ORM queries cost 4.8 ms of CPU and running them as SQL 1.2 ms. Other databases use the ORM.
#
# For a single event (`prepare`) every statement is a prepared one: planning cost PostgreSQL more than
# running them. A batch's are planned each time: a prepared statement's generic plan cannot see how
# long the arrays are, and with it concurrent 1,000-event batches ran at half the speed.


def _lock_members(external_ids: set[str], prepare: bool) -> dict[str, Member]:
    """The members, row-locked in id order (as the one-by-one path locks them, so concurrent
    batches cannot deadlock), by external_id."""
    rows: Iterable[Member]
    if connection.vendor == "postgresql":
        rows = [
            member_from_row(values)
            for values in fetch_all(
                f"""SELECT {member_columns()} FROM {Member._meta.db_table}
                    WHERE external_id = ANY(%s::text[]) ORDER BY id FOR UPDATE""",
                [sorted(external_ids)],
                prepare=prepare,
            )
        ]
    else:
        rows = Member.objects.filter(external_id__in=external_ids).order_by("pk").select_for_update()
    return {m.external_id: m for m in rows}


def _earlier_events(
    source: str, events: Iterable[EventInput], members: dict[str, Member], prepare: bool
) -> tuple[dict[str, Event], set[tuple[int, str]]]:
    """In one query: the events already stored under these event ids (by event_id), and the
    (member id, order_id) of these members' purchases already reported with these order ids."""
    events = list(events)
    event_ids = {e.event_id for e in events}
    purchases = {
        (members[e.member].pk, e.order_id)
        for e in events
        if e.event_type == EventType.PURCHASE and e.order_id and e.member in members
    }
    purchase_orders = {order_id for _, order_id in purchases}
    found: Iterable[tuple[Any, ...]]
    if connection.vendor == "postgresql":
        # The purchases as (member, order) pairs, each one probe of the partial unique index: with the
        # members and the orders as two lists, PostgreSQL matched every member with every order (a
        # 250-event chunk: 27 ms, scanning every purchase's entry in the event type index).
        columns = "e.id, e.source, e.event_id, e.member_id, e.event_type_id, e.order_id"
        found = fetch_all(
            f"""SELECT {columns} FROM {Event._meta.db_table} e
                WHERE e.source = %s::text AND e.event_id = ANY(%s::text[])
                UNION ALL
                SELECT {columns} FROM unnest(%s::bigint[], %s::text[]) AS p(member_id, order_id)
                JOIN {Event._meta.db_table} e ON e.member_id = p.member_id AND e.order_id = p.order_id
                                             AND e.event_type_id = '{EventType.PURCHASE}'""",
            [source, sorted(event_ids), [m for m, _ in sorted(purchases)], [o for _, o in sorted(purchases)]],
            prepare=prepare,
        )
    else:
        stored = Q(source=source, event_id__in=event_ids)
        if purchases:
            member_ids = {member_id for member_id, _ in purchases}
            stored |= Q(member_id__in=member_ids, event_type=EventType.PURCHASE, order_id__in=purchase_orders)
        found = Event.objects.filter(stored).values_list(
            "id", "source", "event_id", "member_id", "event_type_id", "order_id"
        )
    replayed: set[int] = set()  # a replayed purchase comes back from both halves of the query
    reported_orders: set[tuple[int, str]] = set()
    for pk, event_source, event_id, member_id, event_type, order_id in found:
        if event_source == source and event_id in event_ids:
            replayed.add(pk)
        if event_type == EventType.PURCHASE and order_id in purchase_orders:
            reported_orders.add((member_id, order_id))
    earlier = (
        {e.event_id: e for e in Event.objects.select_related("tier_after").filter(pk__in=replayed)} if replayed else {}
    )
    return earlier, reported_orders


def _member_order(members: dict[str, Member], event_input: EventInput) -> int:
    member = members.get(event_input.member)
    return member.pk if member else 0


def _apply(
    event_input: EventInput,
    member: Member | None,
    earlier: Event | None,
    reported_orders: set[tuple[int, str]],
    hits: _RuleHitCounts,
    config: ProgramConfig,
    rows: _Rows,
    now: datetime,
    prepared: list,
) -> EventOutcome:
    """As `events._apply`, in memory: the same checks, the same plan, its rows for _write."""
    if earlier is not None:
        if earlier.fingerprint != event_input.fingerprint:
            raise IdempotencyConflict(f"Event {event_input.event_id!r} was already recorded with a different body.")
        return EventOutcome(event=earlier, applied=False)
    if member is None:
        raise MemberNotFound(f"No member with external_id {event_input.member!r}.")
    check_can_transact(member)
    if event_input.event_type not in config.event_types:
        raise UnknownEventType(f"Unknown event type {event_input.event_type!r}.")
    check_shape(event_input)
    check_age(event_input, config.settings, now)
    is_purchase = event_input.event_type == EventType.PURCHASE
    if is_purchase and (member.pk, event_input.order_id) in reported_orders:
        raise DuplicateOrder(f"Order {event_input.order_id!r} was already reported as a purchase.")

    tier_before = config.tier(member.tier_id)
    member.tier = tier_before
    event = Event(
        source=event_input.source,
        event_id=event_input.event_id,
        member=member,
        event_type_id=event_input.event_type,
        occurred_at=event_input.occurred_at or now,
        amount=event_input.amount,
        order_id=event_input.order_id,
        original_order_id=event_input.original_order_id,
        data=event_input.data,
        fingerprint=event_input.fingerprint,
        recorded_at=now,
    )
    facts = facts_of(event)
    plan = planner.plan_event(
        facts,
        member_state(member),
        program_of(config),
        rules=config.rules_for(event_input.event_type),
        hits=hits.counts(member.pk),
        now=now,
        contributions=prepared,
        member_key=member.pk,
    )
    for hit in plan.hits:
        hits.add(member.pk, hit.rule, hit.day)
        rows.rule_hits.append(
            RuleHit(event=event, rule=hit.rule, member=member, local_day=hit.day, growth=hit.growth, points=hit.points)
        )
    for entry in plan.entries:
        if not isinstance(entry, planner.Credit):  # members whose events may debit are not set-based (may_debit)
            raise RuntimeError("A set-based event planned a debit.")
        model, values = lot_values(entry, member=member, event=event, now=now)
        (rows.growth if model is GrowthEntry else rows.points).append(values)
    if plan.tier_move is not None:
        rows.tier_changes.append(
            TierChange(
                member=member,
                from_tier=tier_before,
                to_tier=plan.tier_move.to,
                reason=plan.tier_move.reason,
                event=event,
                growth_value=plan.member.growth_value,
                note=plan.tier_move.note,
                created_at=now,
            )
        )
    set_state(member, plan.member)
    rows.published += occurrences(plan, event)
    event.growth_delta, event.points_delta = plan.growth_delta, plan.points_delta
    event.tier_after, event.tier_changed = member.tier, plan.tier_move is not None
    event.contributions = contributions_json(plan)
    rows.planned.append(planner.Planned(member.pk, facts, plan, event))
    if is_purchase:
        reported_orders.add((member.pk, event_input.order_id))
    rows.events.append(event)
    rows.members[member.pk] = member
    return EventOutcome(event=event, applied=True)


class _RuleHitCounts:
    """Each member's hits of the batch's limited rules, per program day and ever, counted as the
    batch adds hits. Lifetime counts are read only for rules with a lifetime limit: a daily-limited
    rule needs the batch's days alone, however long the member's history (a daily check-in member
    has a thousand hits after three years)."""

    def __init__(self, today: dict[tuple[int, int, date], int], ever: dict[tuple[int, int], int]):
        self.today = today
        self.ever = ever

    @classmethod
    def load(cls, members, events, config: ProgramConfig, now: datetime, prepare: bool) -> _RuleHitCounts:
        rules = {rule.pk: rule for event in events for rule in config.rules_for(event.event_type)}
        for_life = sorted(pk for pk, rule in rules.items() if rule.lifetime_limit is not None)
        for_days = sorted(
            pk for pk, rule in rules.items() if rule.daily_limit is not None and rule.lifetime_limit is None
        )
        member_ids = [m.pk for m in members]
        if not (for_life or for_days) or not member_ids:
            return cls(defaultdict(int), defaultdict(int))
        zone = config.settings.zone
        days = sorted({local_day(e.occurred_at or now, zone) for e in events})
        per_day: Iterable[tuple[Any, ...]]
        # One query: hits per member and rule on each of the batch's days and, for lifetime limits, on
        # all other days together (day NULL); the lifetime counts are their sums.
        if connection.vendor == "postgresql":
            per_day = fetch_all(
                f"""SELECT member_id, rule_id, CASE WHEN local_day = ANY(%s::date[]) THEN local_day END, COUNT(*)
                    FROM {RuleHit._meta.db_table}
                    WHERE member_id = ANY(%s::bigint[])
                      AND (rule_id = ANY(%s::bigint[]) OR (rule_id = ANY(%s::bigint[]) AND local_day = ANY(%s::date[])))
                    GROUP BY 1, 2, 3""",
                [days, member_ids, for_life, for_days, days],
                prepare=prepare,
            )
        else:
            in_batch_days = Case(When(local_day__in=days, then=F("local_day")), default=None)
            per_day = (
                RuleHit.objects.filter(
                    Q(rule_id__in=for_life) | Q(rule_id__in=for_days, local_day__in=days), member_id__in=member_ids
                )
                .annotate(day=in_batch_days)
                .values_list("member_id", "rule_id", "day")
                .annotate(n=Count("id"))
                .order_by()
            )
        ever: defaultdict[tuple[int, int], int] = defaultdict(int)
        today: defaultdict[tuple[int, int, date], int] = defaultdict(int)
        for member_id, rule_id, day, n in per_day:
            ever[(member_id, rule_id)] += n
            if day is not None:
                today[(member_id, rule_id, day)] = n
        return cls(today, ever)

    def counts(self, member_id: int):
        """The planner's hit counts of this member: (that day, ever) per rule."""

        def hits(rule: EarningRule, day: date) -> tuple[int, int]:
            return self.today[(member_id, rule.pk, day)], self.ever[(member_id, rule.pk)]

        return hits

    def copy(self) -> _RuleHitCounts:
        return _RuleHitCounts(defaultdict(int, self.today), defaultdict(int, self.ever))

    def add(self, member_id: int, rule: EarningRule, day: date) -> None:
        """Counts a hit the batch makes, for the member's later events in it."""
        self.today[(member_id, rule.pk, day)] += 1
        self.ever[(member_id, rule.pk)] += 1


def _write(rows: _Rows, now: datetime, prepare: bool) -> None:
    for member in rows.members.values():
        member.updated_at = now
    if connection.vendor == "postgresql":
        _write_postgresql(rows, prepare)
        return
    # Events first: their primary keys come back from the insert and the other rows point at them.
    Event.objects.bulk_create(rows.events)
    for row in _dependents(rows):
        row.event_id = _event_of(row).pk
    RuleHit.objects.bulk_create(rows.rule_hits)
    GrowthEntry.objects.bulk_create(GrowthEntry(**vars(values)) for values in rows.growth)
    PointsEntry.objects.bulk_create(PointsEntry(**vars(values)) for values in rows.points)
    TierChange.objects.bulk_create(rows.tier_changes)
    Member.objects.bulk_update(list(rows.members.values()), EVENT_MEMBER_FIELDS)
    insert_event_rows(rows.contributed)
    publish_many(rows.published)


def _dependents(rows: _Rows) -> Iterator[Any]:
    """The rows that point at the batch's events."""
    yield from rows.rule_hits
    yield from rows.growth
    yield from rows.points
    yield from rows.tier_changes


def _event_of(row: Any) -> Event:
    """The event a batch row was made with (each is made with one)."""
    if row.event is None:
        raise RuntimeError(f"A batch's {row!r} has no event.")
    return row.event


def _arrays(fields, objects) -> tuple[list[str], list[list[Any]]]:
    """One typed array parameter per field (placeholders, values) for `unnest`."""
    placeholders = [array_type(model_field) for model_field in fields]
    values = [column_array(f, list(map(attrgetter(f.attname), objects))) for f in fields]
    return placeholders, values


def _write_postgresql(rows: _Rows, prepare: bool) -> None:
    """Every row of the batch in one statement: the events inserted from arrays (`unnest`) return
    their ids, the rule hits, lots and tier changes take them by event_id (unique in the set-based
    part of a batch), and the members' cached balances are updated from arrays. Django's
    bulk_create rendered every value of every row as its own parameter, and its cursor quoted every
    array element into SQL text in Python (a fifth of a batch's time); members.db sends the arrays
    in binary. For a single event the statement replaces six round trips."""
    params: list[Any] = []
    event_fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    placeholders, values = _arrays(event_fields, rows.events)
    params += values
    ctes = [
        f"""ev AS (INSERT INTO {Event._meta.db_table} ({", ".join(column(f) for f in event_fields)})
                   SELECT * FROM unnest({", ".join(placeholders)}) RETURNING id, event_id)"""
    ]
    dependent_tables: tuple[tuple[str, Any, list[Any]], ...] = (
        ("rh", RuleHit, rows.rule_hits),
        ("gr", GrowthEntry, rows.growth),
        ("pt", PointsEntry, rows.points),
        ("tc", TierChange, rows.tier_changes),
    )
    for name, model, dependents in dependent_tables:
        if not dependents:
            continue
        fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name != "event"]
        placeholders, values = _arrays(fields, dependents)
        params += [[_event_of(row).event_id for row in dependents], *values]
        ctes.append(_dependent_cte(name, model, fields, placeholders))
    for number, contributed in enumerate(rows.contributed):
        fields = [concrete_field(contributed.model, name) for name in contributed.fields]
        params += [[event.event_id for event, *_ in contributed.rows], *contributed_arrays(fields, contributed)]
        ctes.append(_dependent_cte(f"x{number}", contributed.model, fields, [array_type(f) for f in fields]))
    member_fields = [concrete_field(Member, name) for name in ("id", *EVENT_MEMBER_FIELDS)]
    placeholders, values = _arrays(member_fields, rows.members.values())
    params += values
    columns = [column(f) for f in member_fields]
    ctes.append(
        f"""mm AS (UPDATE {Member._meta.db_table} SET {", ".join(f"{c} = v.{c}" for c in columns[1:])}
                   FROM unnest({", ".join(placeholders)}) AS v({", ".join(columns)})
                   WHERE {Member._meta.db_table}.id = v.id)"""
    )
    if rows.published:
        external_ids = {pk: member.external_id for pk, member in rows.members.items()}
        happened, arrays = identified_arrays_of(rows.published, timezone.now(), external_ids=external_ids)
        params += arrays
        ctes += identified_ctes(happened)
    statement = f"WITH {', '.join(ctes)} SELECT id, event_id FROM ev"  # a few dozen texts: which rows there are
    ids = {event_id: pk for pk, event_id in fetch_all(statement, params, prepare=prepare)}
    for event in rows.events:
        event.pk = ids[event.event_id]
    for row in _dependents(rows):
        row.event_id = _event_of(row).pk


def _dependent_cte(name: str, model, fields, placeholders: list[str]) -> str:
    """An INSERT of rows that point at the batch's events: their event_ids first, then `fields`."""
    aliases = [f"c{i}" for i in range(len(fields))]
    return f"""{name} AS (INSERT INTO {model._meta.db_table} (event_id, {", ".join(column(f) for f in fields)})
                           SELECT ev.id, {", ".join(f"u.{a}" for a in aliases)}
                           FROM unnest(%b::text[], {", ".join(placeholders)}) AS u(event_key, {", ".join(aliases)})
                           JOIN ev ON ev.event_id = u.event_key)"""
