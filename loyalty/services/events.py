"""Recording an event: the engine's main entrance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import DataError, IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from loyalty import planner
from loyalty.config import current_config
from loyalty.errors import (
    DuplicateOrder,
    EventTooOld,
    IdempotencyConflict,
    UnknownEventType,
)
from loyalty.models import Event, EventType, ProgramSettings
from members.errors import InvalidInput, LoyaltyError, MemberNotFound
from members.models import Member
from members.selectors import lock_member

from .event_input import EventInput, parse_event
from .event_plans import (
    SETTLE_ATTEMPTS,
    claims_shared_counters,
    contributed_rows,
    contributions,
    contributions_json,
    facts_of,
    insert_event_rows,
    plan_one,
    recorded,
    settled,
    write_plan,
)
from .members_guard import check_can_transact

# What recording an event may change on the member row.
EVENT_MEMBER_FIELDS = [
    "growth_value",
    "points_available",
    "points_pending",
    "tier",
    "tier_since",
    "last_activity_at",
    "last_purchase_at",
    "purchase_count",
    "purchase_amount",
    "updated_at",
]


@dataclass(frozen=True)
class EventOutcome:
    event: Event
    applied: bool  # False: a replay of an event already recorded; nothing was written


def record_event(
    *,
    source: str,
    event_id: Any,
    member: Any,
    event_type: Any,
    occurred_at: Any = None,
    amount: Any = None,
    order_id: Any = "",
    original_order_id: Any = "",
    data: Any = None,
) -> EventOutcome:
    """Validate an event, apply every matching active rule within its limits, reverse earnings on a
    return, upgrade the tier when growth reaches a threshold, and store the event with its result.

    The same (source, event_id) again returns the first result and writes nothing; the same
    event_id with a different body raises IdempotencyConflict."""
    now = timezone.now()
    event_input = parse_event(
        source=source,
        event_id=event_id,
        member=member,
        event_type=event_type,
        occurred_at=occurred_at,
        amount=amount,
        order_id=order_id,
        original_order_id=original_order_id,
        data=data,
        now=now,
    )
    try:
        return _apply(event_input, now)
    except (IntegrityError, MemberNotFound):
        # A concurrent delivery won the race for the unique (source, event_id), or the event_id was
        # first used for another member: the stored event decides (replay or conflict).
        replay = _replayed(event_input)
        if replay:
            return replay
        raise


# A commit per event costs a WAL flush each; one commit per batch holds its member locks so long
# that concurrent batches over the same members queue behind each other. 50 is between the two.
EVENTS_PER_COMMIT = 50


def record_events_one_by_one(
    *, source: str, events: list[Any], indexes: list[int]
) -> dict[int, EventOutcome | LoyaltyError]:
    """record_event for the batch events at `indexes`, committing every EVENTS_PER_COMMIT events,
    each under its own savepoint so that a refused event changes nothing and does not stop the
    others. Returns each index's outcome or the error that refused it; when the database stops
    answering, the indexes not recorded are left out.

    Events are applied in member-id order (keeping each member's own order), so concurrent batches
    always take member locks in the same order and cannot deadlock each other."""
    try:
        member_ids = dict(
            Member.objects.filter(
                external_id__in={
                    events[i].get("member")
                    for i in indexes
                    if isinstance(events[i], dict) and isinstance(events[i].get("member"), str)
                }
            ).values_list("external_id", "id")
        )
    except OperationalError:
        return {}  # the database stopped answering before any of these was tried

    def lock_order(index: int) -> tuple[int, int]:
        item = events[index]
        member = item.get("member") if isinstance(item, dict) else None
        return (member_ids.get(member, 0) if isinstance(member, str) else 0, index)

    results: dict[int, EventOutcome | LoyaltyError] = {}
    ordered = sorted(indexes, key=lock_order)
    # A campaign's total budget is a counter every member's events claim: a transaction that claimed
    # it for one member and then waited for another member's lock could deadlock with one that holds
    # that member and waits for the counter. Each event then commits on its own.
    per_commit = 1 if claims_shared_counters() else EVENTS_PER_COMMIT
    for start in range(0, len(ordered), per_commit):
        committing = ordered[start : start + per_commit]
        try:
            with transaction.atomic():
                for index in committing:
                    try:
                        with transaction.atomic():
                            results[index] = record_event_body(source=source, body=events[index])
                    except LoyaltyError as error:
                        results[index] = error
                    except (DataError, OverflowError):
                        results[index] = refused_value()
        except OperationalError:
            # The database stopped answering: this commit's events were rolled back with it, and the
            # ones after it are not tried. The caller refuses them as service_unavailable.
            for index in committing:
                results.pop(index, None)
            break
    return results


def refused_value() -> InvalidInput:
    """A value the database could not hold although it passed validation (a balance or counter beyond
    its range): the event is refused on its own, never the batch around it."""
    return InvalidInput("The event would take a balance or counter beyond what can be stored.")


# The fields of an event as the storefront API spells it; others are refused, never ignored.
EVENT_FIELDS = {"event_id", "member", "type", "occurred_at", "amount", "order_id", "original_order_id", "data"}


def _check_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidInput("Each event must be a JSON object.")
    unknown = sorted(set(body) - EVENT_FIELDS, key=str)
    if unknown:
        raise InvalidInput(
            "The event has fields the API does not know.", fields={k: ["Unknown field."] for k in unknown}
        )


def parse_event_body(*, source: str, body: Any, now: datetime) -> EventInput:
    """An event as the storefront API spells it, validated (record_event_body without recording)."""
    _check_body(body)
    return parse_event(
        source=source,
        event_id=body.get("event_id"),
        member=body.get("member"),
        event_type=body.get("type"),
        occurred_at=body.get("occurred_at"),
        amount=body.get("amount"),
        order_id=body.get("order_id", ""),
        original_order_id=body.get("original_order_id", ""),
        data=body.get("data"),
        now=now,
    )


def record_event_body(*, source: str, body: Any) -> EventOutcome:
    """record_event for an event as the storefront API spells it (`type` for the event type)."""
    _check_body(body)
    return record_event(
        source=source,
        event_id=body.get("event_id"),
        member=body.get("member"),
        event_type=body.get("type"),
        occurred_at=body.get("occurred_at"),
        amount=body.get("amount"),
        order_id=body.get("order_id", ""),
        original_order_id=body.get("original_order_id", ""),
        data=body.get("data"),
    )


def _replayed(event_input: EventInput) -> EventOutcome | None:
    existing = (
        Event.objects.select_related("tier_after", "member")
        .filter(source=event_input.source, event_id=event_input.event_id)
        .first()
    )
    if existing is None:
        return None
    if existing.fingerprint != event_input.fingerprint:
        raise IdempotencyConflict(f"Event {event_input.event_id!r} was already recorded with a different body.")
    return EventOutcome(event=existing, applied=False)


@transaction.atomic
def _apply(event_input: EventInput, now: datetime) -> EventOutcome:
    member = lock_member(external_id=event_input.member)
    config = current_config()
    member.tier = config.tier(member.tier_id)
    # Replays are found under the member lock, so a duplicate that raced us sees the first delivery.
    earlier = _earlier_events(event_input, member)
    replay = _replay_among(earlier, event_input)
    if replay:
        return replay
    check_can_transact(member)
    if event_input.event_type not in config.event_types:
        raise UnknownEventType(f"Unknown event type {event_input.event_type!r}.")
    check_shape(event_input)
    check_age(event_input, config.settings, now)
    if earlier:
        raise DuplicateOrder(f"Order {event_input.order_id!r} was already reported as a purchase.")
    event = _store_event(event_input, member, event_input.occurred_at or now)
    facts = facts_of(event)
    prepared = contributions([member.pk], [facts])
    for _attempt in range(SETTLE_ATTEMPTS):
        plan = plan_one(event, member, config, now, prepared)
        planned = [planner.Planned(member.pk, facts, plan, event)]
        if settled(prepared, planned):
            break
    else:
        raise RuntimeError("The earning contributors did not settle the event.")
    write_plan(plan, event=event, member=member, now=now)
    insert_event_rows(contributed_rows(prepared, planned))
    member.save(update_fields=EVENT_MEMBER_FIELDS)
    event.growth_delta, event.points_delta = plan.growth_delta, plan.points_delta
    event.tier_after, event.tier_changed = member.tier, plan.tier_move is not None
    event.contributions = contributions_json(plan)
    event.save(update_fields=["growth_delta", "points_delta", "tier_after", "tier_changed", "contributions"])
    recorded(prepared, planned)
    return EventOutcome(event=event, applied=True)


def _earlier_events(event_input: EventInput, member: Member) -> list[Event]:
    """In one query: an event stored under this event_id, and this member's purchase with this
    order_id (a purchase reported twice under different event ids)."""
    same_delivery = Q(source=event_input.source, event_id=event_input.event_id)
    if event_input.event_type == EventType.PURCHASE and event_input.order_id:
        same_delivery |= Q(member=member, event_type=EventType.PURCHASE, order_id=event_input.order_id)
    return list(Event.objects.filter(same_delivery))


def _replay_among(earlier: list[Event], event_input: EventInput) -> EventOutcome | None:
    for event in earlier:
        if event.source == event_input.source and event.event_id == event_input.event_id:
            if event.fingerprint != event_input.fingerprint:
                raise IdempotencyConflict(f"Event {event_input.event_id!r} was already recorded with a different body.")
            return EventOutcome(event=event, applied=False)
    return None


def check_shape(event_input: EventInput) -> None:
    errors = {}
    needs_amount = event_input.event_type in (EventType.PURCHASE, EventType.RETURN)
    if needs_amount and (event_input.amount is None or event_input.amount <= 0):
        errors["amount"] = [f"A {event_input.event_type} needs a positive amount."]
    if event_input.event_type == EventType.PURCHASE and not event_input.order_id:
        errors["order_id"] = ["A purchase needs an order_id (returns refer to it)."]
    if event_input.event_type == EventType.RETURN and not event_input.original_order_id:
        errors["original_order_id"] = ["A return needs the original_order_id of the purchase."]
    if errors:
        raise InvalidInput("The event is not valid.", fields=errors)


def check_age(event_input: EventInput, program: ProgramSettings, now: datetime) -> None:
    """Events older than the program's max_event_age_days are refused: they would earn into windows
    and from lots that have long closed. Historical loads go through the import tools."""
    oldest = now - timedelta(days=program.max_event_age_days)
    if event_input.occurred_at is not None and event_input.occurred_at < oldest:
        raise EventTooOld(
            f"The event happened more than {program.max_event_age_days} days ago; the program accepts "
            "events up to that age (max_event_age_days).",
            fields={"occurred_at": [f"At most {program.max_event_age_days} days ago."]},
        )


def _store_event(event_input: EventInput, member: Member, occurred_at: datetime) -> Event:
    return Event.objects.create(
        source=event_input.source,
        event_id=event_input.event_id,
        member=member,
        event_type_id=event_input.event_type,
        occurred_at=occurred_at,
        amount=event_input.amount,
        order_id=event_input.order_id,
        original_order_id=event_input.original_order_id,
        data=event_input.data,
        fingerprint=event_input.fingerprint,
        tier_after=member.tier,
    )
