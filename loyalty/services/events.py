"""Recording an event: the engine's main entrance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import DataError, IntegrityError, OperationalError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from loyalty.calculations import (
    MAX_EARNING,
    Earning,
    earning_in_bounds,
    local_day,
    reversal_due,
    rule_applies_at,
    rule_earning,
    rule_within_limits,
)
from loyalty.config import current_config
from loyalty.errors import (
    DuplicateOrder,
    EventTooOld,
    IdempotencyConflict,
    InvalidInput,
    LoyaltyError,
    MemberNotFound,
    OrderNotFound,
    RefundExceedsOrder,
    UnknownEventType,
)
from loyalty.models import EarningRule, Event, EventType, GrowthEntry, PointsEntry, ProgramSettings, RuleHit
from loyalty.models.program import GrowthMode
from members.models import Member
from members.selectors import lock_member

from . import ledger
from .event_input import EventInput, parse_event
from .members_guard import check_can_transact
from .tiers import downgrade_after_return, upgrade_if_qualified

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
    member_ids = dict(
        Member.objects.filter(
            external_id__in={
                events[i].get("member")
                for i in indexes
                if isinstance(events[i], dict) and isinstance(events[i].get("member"), str)
            }
        ).values_list("external_id", "id")
    )

    def lock_order(index: int) -> tuple[int, int]:
        item = events[index]
        member = item.get("member") if isinstance(item, dict) else None
        return (member_ids.get(member, 0) if isinstance(member, str) else 0, index)

    results: dict[int, EventOutcome | LoyaltyError] = {}
    ordered = sorted(indexes, key=lock_order)
    for start in range(0, len(ordered), EVENTS_PER_COMMIT):
        committing = ordered[start : start + EVENTS_PER_COMMIT]
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
    occurred_at = event_input.occurred_at or now
    program = config.settings
    tier_before = member.tier

    event = _store_event(event_input, member, occurred_at)
    growth_before, points_before = member.growth_value, _points_total(member)
    if event_input.event_type == EventType.RETURN:
        _reverse_order(member, event, event_input)
    _apply_rules(member, event, config.rules_for(event_input.event_type), program, tier_before.points_multiplier, now)
    update_activity(member, event)
    tier_changed = upgrade_if_qualified(member, at=now, event=event, ladder=config.ladder)
    if event_input.event_type == EventType.RETURN and not tier_changed:
        tier_changed = downgrade_after_return(member, at=now, event=event, ladder=config.ladder, program=program)
    member.save(update_fields=EVENT_MEMBER_FIELDS)

    event.growth_delta = member.growth_value - growth_before
    event.points_delta = _points_total(member) - points_before
    event.tier_after = member.tier
    event.tier_changed = tier_changed
    event.save(update_fields=["growth_delta", "points_delta", "tier_after", "tier_changed"])
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


def _points_total(member: Member) -> int:
    return member.points_available + member.points_pending


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


def _sum(queryset, field: str = "amount"):
    return queryset.aggregate(total=Sum(field))["total"] or 0


def _reverse_order(member: Member, event: Event, event_input: EventInput) -> None:
    """Cumulative refunds reverse round-down(earned x refunded so far / order amount) in total."""
    purchase = Event.objects.filter(
        member=member, event_type=EventType.PURCHASE, order_id=event_input.original_order_id
    ).first()
    if purchase is None:
        raise OrderNotFound(
            f"Member {member.external_id} has no purchase with order_id {event_input.original_order_id!r}."
        )
    returns = Event.objects.filter(member=member, event_type=EventType.RETURN, original_order_id=purchase.order_id)
    refunded_total = Decimal(_sum(returns.exclude(pk=event.pk))) + event_input.amount
    if refunded_total > purchase.amount:
        refundable = purchase.amount - (refunded_total - event_input.amount)
        raise RefundExceedsOrder(
            f"Refunds would total {refunded_total} on order {purchase.order_id} of {purchase.amount}; "
            f"at most {refundable} is still refundable."
        )
    growth_due = reversal_due(
        _sum(GrowthEntry.objects.filter(event=purchase, amount__gt=0)),
        purchase.amount,
        refunded_total,
        -_sum(GrowthEntry.objects.filter(event__in=returns, kind=GrowthEntry.Kind.REVERSE)),
    )
    points_due = reversal_due(
        _sum(PointsEntry.objects.filter(event=purchase, amount__gt=0)),
        purchase.amount,
        refunded_total,
        -_sum(PointsEntry.objects.filter(event__in=returns, kind=PointsEntry.Kind.REVERSE)),
    )
    reason = f"Return on order {purchase.order_id}"
    if growth_due:
        ledger.debit_growth(
            member,
            amount=growth_due,
            kind=GrowthEntry.Kind.REVERSE,
            at=event.occurred_at,
            own_event=purchase,
            event=event,
            reason=reason,
        )
    if points_due:
        ledger.debit_points(
            member,
            amount=points_due,
            kind=PointsEntry.Kind.REVERSE,
            at=event.occurred_at,
            pending=ledger.PENDING_FIRST,
            own_event=purchase,
            event=event,
            reason=reason,
        )


def _apply_rules(
    member: Member,
    event: Event,
    rules: tuple[EarningRule, ...],
    program: ProgramSettings,
    multiplier: Decimal,
    now: datetime,
) -> None:
    day = local_day(event.occurred_at, program.zone)
    earnings = applicable_earnings(rules, event.occurred_at, event.amount, multiplier)
    for rule, earning in earnings:
        hits = RuleHit.objects.filter(member=member, rule=rule)
        hits_today = hits.filter(local_day=day).count() if rule.daily_limit is not None else 0
        hits_ever = hits.count() if rule.lifetime_limit is not None else 0
        if not rule_within_limits(rule, hits_today, hits_ever):
            continue
        RuleHit.objects.create(
            event=event, rule=rule, member=member, local_day=day, growth=earning.growth, points=earning.points
        )
        _book_growth(member, event, rule, program, earning.growth)
        _book_points(member, event, rule, program, earning.points, now)


def applicable_earnings(
    rules: tuple[EarningRule, ...], at: datetime, amount: Decimal | None, multiplier: Decimal
) -> list[tuple[EarningRule, Earning]]:
    """What each rule active at `at` would earn, before its limits are counted; an event that would
    earn (or deduct) more than MAX_EARNING through one rule is refused before anything is written."""
    earnings = [(rule, rule_earning(rule, amount, multiplier)) for rule in rules if rule_applies_at(rule, at)]
    if not all(earning_in_bounds(earning) for _, earning in earnings):
        raise InvalidInput(
            "The event would earn more than one event may.",
            fields={"amount": [f"Earns more than {MAX_EARNING:,} through one rule; check the amount."]},
        )
    return earnings


def _book_growth(member: Member, event: Event, rule: EarningRule, program: ProgramSettings, growth: int) -> None:
    reason = rule.name or rule.code
    if growth > 0:
        ledger.credit_growth(
            member,
            program=program,
            amount=growth,
            kind=GrowthEntry.Kind.EARN,
            at=event.occurred_at,
            event=event,
            rule=rule,
            reason=reason,
        )
    elif growth < 0 and program.growth_mode == GrowthMode.TWO_WAY:
        ledger.debit_growth(
            member,
            amount=-growth,
            kind=GrowthEntry.Kind.DEDUCT,
            at=event.occurred_at,
            event=event,
            rule=rule,
            reason=reason,
        )


def _book_points(
    member: Member, event: Event, rule: EarningRule, program: ProgramSettings, points: int, now: datetime
) -> None:
    reason = rule.name or rule.code
    if points > 0:
        pending_days = program.pending_days if event.event_type_id == EventType.PURCHASE else 0
        ledger.credit_points(
            member,
            amount=points,
            kind=PointsEntry.Kind.EARN,
            at=event.occurred_at,
            available_at=event.occurred_at + timedelta(days=pending_days),
            expires_at=ledger.points_expiry(program, event.occurred_at),
            now=now,
            event=event,
            rule=rule,
            reason=reason,
        )
    elif points < 0:
        ledger.debit_points(
            member,
            amount=-points,
            kind=PointsEntry.Kind.DEDUCT,
            at=event.occurred_at,
            pending=ledger.PENDING_LAST,
            event=event,
            rule=rule,
            reason=reason,
        )


def update_activity(member: Member, event: Event) -> None:
    at = event.occurred_at
    member.last_activity_at = max(filter(None, [member.last_activity_at, at]))
    if event.event_type_id == EventType.PURCHASE:
        member.purchase_count += 1
        member.purchase_amount += event.amount
        member.last_purchase_at = max(filter(None, [member.last_purchase_at, at]))
    elif event.event_type_id == EventType.RETURN:
        member.purchase_amount -= event.amount
