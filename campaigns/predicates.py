"""The built-in segment predicates (campaigns.definitions), registered in CampaignsConfig.ready().

Each answers its question twice: as a Q over members (the set-based recompute) and over one
member's facts (the per-member check). Days are program days (Context); "within the last N days"
is today and the N-1 days before it.
"""

from __future__ import annotations

from calendar import isleap
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Exists, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.analytics import rfm
from loyalty.models import Event, EventType, MemberRFM
from members.models import Member

from .definitions import (
    Context,
    MemberFacts,
    Predicate,
    Problems,
    Range,
    days_since_lookups,
    parse_code,
    parse_codes,
    parse_days,
    parse_range,
    predicates,
)
from .models import MemberTag

NOBODY = Q(pk__in=[])


# --- tier, tag, status, referrer -------------------------------------------------------------------------


def _parse_tier(raw: Any, path: str, problems: Problems):
    if isinstance(raw, str):
        return ("in", (raw,))
    if isinstance(raw, dict) and len(raw) == 1:
        ((how, value),) = raw.items()
        if how == "in":
            codes = parse_codes(value, f"{path}.in", problems)
            return ("in", tuple(codes)) if codes else None
        if how in ("at_least", "at_most"):
            code = parse_code(value, f"{path}.{how}", problems)
            return (how, code) if code else None
    problems.add(path, _('A tier code, or {"in": [codes]}, {"at_least": code} or {"at_most": code}.'))
    return None


def _tier_ranks(arguments, context: Context) -> set[int]:
    """The ranks of the tiers the arguments select."""
    how, value = arguments
    if how == "in":
        return {context.tiers[code].rank for code in value if code in context.tiers}
    if value not in context.tiers:
        return set()
    rank = context.tiers[value].rank
    return {
        tier.rank for tier in context.tiers.values() if (tier.rank >= rank if how == "at_least" else tier.rank <= rank)
    }


def _tier_condition(arguments, context: Context) -> Q:
    ranks = _tier_ranks(arguments, context)
    return Q(tier_id__in=sorted(tier.id for tier in context.tiers.values() if tier.rank in ranks))


def _tier_holds(arguments, facts: MemberFacts, context: Context) -> bool:
    tier = context.tiers.get(facts.tier_code)
    return tier is not None and tier.rank in _tier_ranks(arguments, context)


def _tier_references(arguments) -> dict[str, set[str]]:
    how, value = arguments
    return {"tiers": set(value) if how == "in" else {value}}


def _parse_tag(raw: Any, path: str, problems: Problems):
    if isinstance(raw, str):
        return ("has", parse_code(raw, path, problems))
    if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in ("has", "has_not"):
        ((how, value),) = raw.items()
        code = parse_code(value, f"{path}.{how}", problems)
        return (how, code) if code else None
    problems.add(path, _('A tag code, or {"has": code} or {"has_not": code}.'))
    return None


def carries(code: str, context: Context) -> Exists:
    """Whether the member carries the active tag `code` at the context's moment."""
    return Exists(
        MemberTag.objects.filter(member=OuterRef("pk"), tag__code=code, tag__active=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=context.as_of)
        )
    )


def _tag_condition(arguments, context: Context) -> Q:
    how, code = arguments
    return Q(carries(code, context)) if how == "has" else ~Q(carries(code, context))


def _tag_holds(arguments, facts: MemberFacts, context: Context) -> bool:
    how, code = arguments
    return (code in facts.tags) == (how == "has")


def _parse_status(raw: Any, path: str, problems: Problems):
    statuses = raw["in"] if isinstance(raw, dict) and set(raw) == {"in"} else [raw]
    if not isinstance(statuses, list) or not statuses or any(s not in Member.Status.values for s in statuses):
        problems.add(
            path, _('A status (%(statuses)s) or {"in": [statuses]}.') % {"statuses": ", ".join(Member.Status.values)}
        )
        return None
    return tuple(statuses)


def _parse_boolean(raw: Any, path: str, problems: Problems):
    if not isinstance(raw, bool):
        problems.add(path, _("Must be true or false."))
        return None
    return raw


# --- stored RFM --------------------------------------------------------------------------------------------


def _stored_rfm(**lookups) -> Q:
    return Q(Exists(MemberRFM.objects.filter(member=OuterRef("pk"), **lookups)))


def _parse_quadrants(raw: Any, path: str, problems: Problems):
    quadrants = raw if isinstance(raw, list) else [raw]
    if not quadrants or any(quadrant not in rfm.QUADRANTS for quadrant in quadrants):
        problems.add(path, _("One of %(quadrants)s, or a list of them.") % {"quadrants": ", ".join(rfm.QUADRANTS)})
        return None
    return tuple(quadrants)


def _quadrant_condition(arguments, context: Context) -> Q:
    if context.cut is None:
        return NOBODY
    either = NOBODY
    for quadrant in arguments:
        high_spend = quadrant in (rfm.HIGH_SPEND_HIGH_FREQUENCY, rfm.HIGH_SPEND_LOW_FREQUENCY)
        high_frequency = quadrant in (rfm.HIGH_SPEND_HIGH_FREQUENCY, rfm.LOW_SPEND_HIGH_FREQUENCY)
        either |= _stored_rfm(
            **{
                "monetary__gt" if high_spend else "monetary__lte": context.cut.monetary,
                "frequency__gt" if high_frequency else "frequency__lte": context.cut.frequency,
            }
        )
    return either


def _quadrant_holds(arguments, facts: MemberFacts, context: Context) -> bool:
    if context.cut is None or facts.rfm is None:
        return False
    _, frequency, monetary = facts.rfm
    quadrant = rfm.quadrant_of(
        high_spend=monetary > context.cut.monetary, high_frequency=frequency > context.cut.frequency
    )
    return quadrant in arguments


def _rfm_range(index: int, field_name: str, *, whole: bool) -> Predicate:
    def condition(bounds: Range, context: Context) -> Q:
        return _stored_rfm(**{f"{field_name}__isnull": False}, **bounds.lookups(field_name))

    def holds(bounds: Range, facts: MemberFacts, context: Context) -> bool:
        value = facts.rfm[index] if facts.rfm is not None else None
        return value is not None and bounds.contains(value)

    labels = {
        "recency_days": gettext_lazy("Days since the last purchase in the RFM window (stored RFM)"),
        "frequency": gettext_lazy("Purchases in the RFM window (stored RFM)"),
        "monetary": gettext_lazy("Spend in the RFM window (stored RFM)"),
    }
    return Predicate(
        label=labels[field_name],
        parse=lambda raw, path, problems: parse_range(raw, path, problems, whole=whole),
        condition=condition,
        holds=holds,
        example={"gte": 3} if whole else {"gte": "500"},
    )


# --- days since, joined, birthdays -------------------------------------------------------------------------


def _days_since(field_name: str, label) -> Predicate:
    def holds(bounds: Range, facts: MemberFacts, context: Context) -> bool:
        moment = getattr(facts, field_name)
        return moment is not None and bounds.contains(context.days_since(moment))

    return Predicate(
        label=label,
        parse=lambda raw, path, problems: parse_range(raw, path, problems, whole=True, maximum=36_500),
        condition=lambda bounds, context: days_since_lookups(field_name, bounds, context),
        holds=holds,
        example={"gte": 60},
    )


def _joined_condition(days: int, context: Context) -> Q:
    return Q(joined_at__gte=context.day_start(context.today - timedelta(days=days - 1)))


def _joined_holds(days: int, facts: MemberFacts, context: Context) -> bool:
    return context.days_since(facts.joined_at) <= days - 1


def anniversary(birthday: date, year: int) -> date:
    """The birthday in `year`; 29 February falls on the 28th in other years."""
    if birthday.month == 2 and birthday.day == 29 and not isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def _birthday_days(days: int, context: Context) -> list[tuple[int, int]]:
    """The (month, day) birthdays whose anniversary falls today or in the next `days` days."""
    found: list[tuple[int, int]] = []
    for offset in range(days + 1):
        day = context.today + timedelta(days=offset)
        found.append((day.month, day.day))
        if (day.month, day.day) == (2, 28) and not isleap(day.year):
            found.append((2, 29))
    return found


def _birthday_condition(days: int, context: Context) -> Q:
    by_month: dict[int, set[int]] = {}
    for month, day in _birthday_days(days, context):
        by_month.setdefault(month, set()).add(day)
    either = NOBODY
    for month, month_days in by_month.items():
        either |= Q(birthday__month=month, birthday__day__in=sorted(month_days))
    return either


def _birthday_holds(days: int, facts: MemberFacts, context: Context) -> bool:
    if facts.birthday is None:
        return False
    today = context.today
    upcoming = anniversary(facts.birthday, today.year)
    if upcoming < today:
        upcoming = anniversary(facts.birthday, today.year + 1)
    return (upcoming - today).days <= days


def _parse_month(raw: Any, path: str, problems: Problems):
    if raw == "current" or (isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 12):
        return raw
    problems.add(path, _('"current" or a month from 1 to 12.'))
    return None


def _month(arguments, context: Context) -> int:
    return context.today.month if arguments == "current" else arguments


# --- purchases and returns in the last N days ---------------------------------------------------------------


def _parse_window(keys: dict[str, bool], raw: Any, path: str, problems: Problems):
    """{"days": N, and one or more of `keys` (name -> whole numbers?)}."""
    if not isinstance(raw, dict) or "days" not in raw or not (set(raw) - {"days"}) or set(raw) - {"days", *keys}:
        problems.add(path, _('{"days": N} and one or more of %(keys)s.') % {"keys": ", ".join(keys)})
        return None
    days = parse_days(raw["days"], f"{path}.days", problems, minimum=1)
    bounds = {
        key: parse_range(value, f"{path}.{key}", problems, whole=keys[key])
        for key, value in raw.items()
        if key != "days"
    }
    if days is None or None in bounds.values():
        return None
    return (days, bounds)


def _window(days: int, context: Context) -> Q:
    return Q(
        occurred_at__gte=context.day_start(context.today - timedelta(days=days - 1)), occurred_at__lte=context.as_of
    )


def _per_member(event_type: str, days: int, context: Context, aggregate, output) -> Coalesce:
    events = (
        Event.objects.filter(_window(days, context), member=OuterRef("pk"), event_type_id=event_type)
        .order_by()
        .values("member")
        .annotate(value=aggregate)
        .values("value")
    )
    return Coalesce(Subquery(events, output_field=output), Value(0), output_field=output)


def _compare(expression, bounds: Range, scale=None) -> Q:
    """`bounds` on an expression; with `scale` (a Range of fractions), each bound p/q compared as
    expression * q against scale * p, in whole numbers."""
    found = Q()
    for bound, lookup in (("gte", GreaterThanOrEqual), ("gt", GreaterThan), ("lte", LessThanOrEqual), ("lt", LessThan)):
        value = getattr(bounds, bound)
        if value is None:
            continue
        if scale is None:
            found &= Q(lookup(expression, value))
        else:
            numerator, denominator = Decimal(value).as_integer_ratio()
            found &= Q(lookup(expression * Value(denominator), scale * Value(numerator)))
    return found


def _purchases_condition(arguments, context: Context) -> Q:
    days, bounds = arguments
    found = Q()
    if "count" in bounds:
        found &= _compare(_per_member(EventType.PURCHASE, days, context, Count("*"), IntegerField()), bounds["count"])
    if "amount" in bounds:
        spent = _per_member(
            EventType.PURCHASE, days, context, Sum("amount"), DecimalField(max_digits=20, decimal_places=2)
        )
        found &= _compare(spent, bounds["amount"])
    return found


def _in_window(moment, days: int, context: Context) -> bool:
    return context.days_since(moment) <= days - 1 and moment <= context.as_of


def _purchases_holds(arguments, facts: MemberFacts, context: Context) -> bool:
    days, bounds = arguments
    bought = [amount for at, amount in facts.purchases if _in_window(at, days, context)]
    return ("count" not in bounds or bounds["count"].contains(len(bought))) and (
        "amount" not in bounds or bounds["amount"].contains(sum(bought, Decimal(0)))
    )


def _returns_condition(arguments, context: Context) -> Q:
    days, bounds = arguments
    returned = _per_member(EventType.RETURN, days, context, Count("*"), IntegerField())
    found = Q()
    if "count" in bounds:
        found &= _compare(returned, bounds["count"])
    if "share_of_purchases" in bounds:
        bought = _per_member(EventType.PURCHASE, days, context, Count("*"), IntegerField())
        found &= Q(GreaterThan(bought, 0)) & _compare(returned, bounds["share_of_purchases"], scale=bought)
    return found


def _returns_holds(arguments, facts: MemberFacts, context: Context) -> bool:
    days, bounds = arguments
    returned = sum(1 for at in facts.returns if _in_window(at, days, context))
    if "count" in bounds and not bounds["count"].contains(returned):
        return False
    if "share_of_purchases" in bounds:
        bought = sum(1 for at, _ in facts.purchases if _in_window(at, days, context))
        return bought > 0 and bounds["share_of_purchases"].contains(Decimal(returned) / bought)
    return True


def _field_range(field_name: str, label, example) -> Predicate:
    return Predicate(
        label=label,
        parse=lambda raw, path, problems: parse_range(raw, path, problems, whole=True),
        condition=lambda bounds, context: Q(**bounds.lookups(field_name)),
        holds=lambda bounds, facts, context: bounds.contains(getattr(facts, field_name)),
        example=example,
    )


def register() -> None:
    predicates.register(
        "tier",
        Predicate(
            label=gettext_lazy("Tier: a code, in a list, at least or at most a tier"),
            parse=_parse_tier,
            condition=_tier_condition,
            holds=_tier_holds,
            example={"at_least": "gold"},
            references=_tier_references,
        ),
    )
    predicates.register(
        "tag",
        Predicate(
            label=gettext_lazy("Carries a tag (or not)"),
            parse=_parse_tag,
            condition=_tag_condition,
            holds=_tag_holds,
            example={"has_not": "do-not-contact"},
            references=lambda arguments: {"tags": {arguments[1]}},
        ),
    )
    predicates.register(
        "rfm_quadrant",
        Predicate(
            label=gettext_lazy("RFM quadrant (stored RFM, cut at the medians)"),
            parse=_parse_quadrants,
            condition=_quadrant_condition,
            holds=_quadrant_holds,
            example=rfm.HIGH_SPEND_HIGH_FREQUENCY,
        ),
    )
    predicates.register("recency_days", _rfm_range(0, "recency_days", whole=True))
    predicates.register("frequency", _rfm_range(1, "frequency", whole=True))
    predicates.register("monetary", _rfm_range(2, "monetary", whole=False))
    predicates.register(
        "days_since_last_purchase",
        _days_since("last_purchase_at", gettext_lazy("Days since the last purchase")),
    )
    predicates.register(
        "days_since_last_activity",
        _days_since("last_activity_at", gettext_lazy("Days since the last activity")),
    )
    predicates.register(
        "purchases_in_days",
        Predicate(
            label=gettext_lazy("Purchases in the last N days: how many, how much"),
            parse=lambda raw, path, problems: _parse_window({"count": True, "amount": False}, raw, path, problems),
            condition=_purchases_condition,
            holds=_purchases_holds,
            example={"days": 90, "count": {"gte": 2}},
        ),
    )
    predicates.register(
        "returns_in_days",
        Predicate(
            label=gettext_lazy("Returns in the last N days: how many, what share of the purchases"),
            parse=lambda raw, path, problems: _parse_window(
                {"count": True, "share_of_purchases": False}, raw, path, problems
            ),
            condition=_returns_condition,
            holds=_returns_holds,
            example={"days": 180, "count": {"gte": 3}, "share_of_purchases": {"gte": "0.3"}},
        ),
    )
    predicates.register(
        "joined_within_days",
        Predicate(
            label=gettext_lazy("Joined today or in the N-1 days before"),
            parse=lambda raw, path, problems: parse_days(raw, path, problems, minimum=1),
            condition=_joined_condition,
            holds=_joined_holds,
            example=30,
        ),
    )
    predicates.register(
        "birthday_within_days",
        Predicate(
            label=gettext_lazy("Birthday today or in the next N days"),
            parse=lambda raw, path, problems: parse_days(raw, path, problems),
            condition=_birthday_condition,
            holds=_birthday_holds,
            example=7,
        ),
    )
    predicates.register(
        "birthday_month",
        Predicate(
            label=gettext_lazy('Birthday in a month ("current": this month)'),
            parse=_parse_month,
            condition=lambda month, context: Q(birthday__month=_month(month, context)),
            holds=lambda month, facts, context: (
                facts.birthday is not None and facts.birthday.month == _month(month, context)
            ),
            example="current",
        ),
    )
    predicates.register(
        "status",
        Predicate(
            label=gettext_lazy("Status: a status or one in a list"),
            parse=_parse_status,
            condition=lambda statuses, context: Q(status__in=statuses),
            holds=lambda statuses, facts, context: facts.status in statuses,
            example="active",
        ),
    )
    predicates.register(
        "points_available", _field_range("points_available", gettext_lazy("Points available"), {"gte": 1000})
    )
    predicates.register("growth_value", _field_range("growth_value", gettext_lazy("Growth value"), {"gte": 500}))
    predicates.register(
        "has_referrer",
        Predicate(
            label=gettext_lazy("Was referred by another member"),
            parse=_parse_boolean,
            condition=lambda value, context: Q(referrer__isnull=not value),
            holds=lambda value, facts, context: facts.has_referrer == value,
            example=True,
        ),
    )
