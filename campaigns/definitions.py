"""Segment definitions: a typed JSON language over whitelisted predicates, never SQL.

A definition is one node: `{"all": [node, ...]}`, `{"any": [node, ...]}`, `{"not": node}`, or a
predicate `{"<name>": <arguments>}` (campaigns.predicates has the built-ins; a later capability
registers more in `predicates`). Example:

    {"all": [{"tier": {"at_least": "gold"}}, {"days_since_last_purchase": {"gte": 60}},
             {"not": {"tag": "do-not-contact"}}]}

Each predicate reads its arguments (`parse`, no database), and answers the same question two ways:
`condition`, a Django `Q` over members for the set-based recompute, and `holds`, plain Python over one
member's facts (`MemberFacts`) for the per-member check. The tests hold the two equal on a seeded
population. "A day" is a day in the program's time zone (`Context`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.translation import gettext as _

from loyalty.calculations import local_day, start_of_day
from loyalty.extensions import Registry
from members.inputs import json_problem

MAX_DEPTH = 8
MAX_NODES = 100


class InvalidDefinition(ValueError):
    """The definition's problems, by path ("all.1.tier.at_least"), in the reader's language."""

    def __init__(self, problems: dict[str, list[str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in problems.items()))


class Problems:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.found.setdefault(path or "definition", []).append(message)


@dataclass(frozen=True)
class Cut:
    """The RFM quadrants' cut (stored RFM: high is strictly above)."""

    frequency: Decimal
    monetary: Decimal


@dataclass(frozen=True)
class TierRef:
    id: int
    rank: int


@dataclass(frozen=True)
class Context:
    """What a definition is evaluated against: a moment, the program's zone, the ladder by code,
    and the RFM cut (None when no member has a stored RFM)."""

    as_of: datetime
    zone: ZoneInfo
    tiers: Mapping[str, TierRef]
    cut: Cut | None = None

    @property
    def today(self) -> date:
        return local_day(self.as_of, self.zone)

    def day_start(self, day: date) -> datetime:
        return start_of_day(day, self.zone)

    def days_since(self, moment: datetime) -> int:
        return (self.today - local_day(moment, self.zone)).days


@dataclass(frozen=True)
class MemberFacts:
    """One member as the per-member check sees them (campaigns.selectors.member_facts reads them)."""

    id: int
    status: str
    tier_code: str
    joined_at: datetime
    birthday: date | None
    last_purchase_at: datetime | None
    last_activity_at: datetime | None
    points_available: int
    growth_value: int
    has_referrer: bool
    tags: frozenset[str]  # active at the context's moment
    rfm: tuple[int | None, int, Decimal] | None  # recency_days, frequency, monetary
    purchases: tuple[tuple[datetime, Decimal], ...] = ()  # (occurred_at, amount)
    returns: tuple[datetime, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # for predicates registered by other apps


@dataclass(frozen=True)
class Predicate:
    label: Any  # lazily translated, for the editor's help
    parse: Callable[[Any, str, Problems], Any]  # (raw arguments, path, problems) -> arguments
    condition: Callable[[Any, Context], Q]
    holds: Callable[[Any, MemberFacts, Context], bool]
    example: Any  # the arguments of an example, for the editor's help
    references: Callable[[Any], Mapping[str, set[str]]] = lambda arguments: {}  # {"tiers": {...}, "tags": {...}}


predicates: Registry[Predicate] = Registry("segment predicate")


# --- the tree ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Test:
    name: str
    arguments: Any


Node = All | Any_ | Not | Test


def parse(raw: Any) -> Node:
    """The definition's tree, or InvalidDefinition with every problem found."""
    problems = Problems()
    if problem := json_problem(raw):  # a lone surrogate in a code, a number out of bounds ...
        raise InvalidDefinition({"definition": [problem]})
    counter = [0]
    node = _parse(raw, "", problems, depth=0, counter=counter)
    if problems.found or node is None:
        raise InvalidDefinition(problems.found or {"definition": [_("Empty definition.")]})
    return node


def _parse(raw: Any, path: str, problems: Problems, *, depth: int, counter: list[int]) -> Node | None:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        if counter[0] == MAX_NODES + 1:
            problems.add(path, _("A definition has at most %(count)d parts.") % {"count": MAX_NODES})
        return None
    if depth > MAX_DEPTH:
        problems.add(path, _("Nested more than %(depth)d levels deep.") % {"depth": MAX_DEPTH})
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        problems.add(path, _('Each part is an object with exactly one key: "all", "any", "not" or a predicate.'))
        return None
    ((key, value),) = raw.items()
    here = f"{path}.{key}" if path else key
    if key in ("all", "any"):
        if not isinstance(value, list) or not value:
            problems.add(here, _("Must be a non-empty list."))
            return None
        children = [
            _parse(item, f"{here}.{index}", problems, depth=depth + 1, counter=counter)
            for index, item in enumerate(value)
        ]
        if any(child is None for child in children):
            return None
        return (All if key == "all" else Any_)(tuple(children))  # type: ignore[arg-type]
    if key == "not":
        child = _parse(value, here, problems, depth=depth + 1, counter=counter)
        return Not(child) if child is not None else None
    predicate = predicates.get(key)
    if predicate is None:
        problems.add(here, _("Unknown predicate. Known: %(names)s.") % {"names": ", ".join(predicates.names())})
        return None
    before = sum(len(messages) for messages in problems.found.values())
    arguments = predicate.parse(value, here, problems)
    if sum(len(messages) for messages in problems.found.values()) > before:
        return None
    return Test(key, arguments)


def condition(node: Node, context: Context) -> Q:
    """The members the definition selects, as a Q over members.Member (joins only through subqueries)."""
    if isinstance(node, All):
        combined = Q()
        for child in node.children:
            combined &= condition(child, context)
        return combined
    if isinstance(node, Any_):
        either = Q(pk__in=[])
        for child in node.children:
            either |= condition(child, context)
        return either
    if isinstance(node, Not):
        return ~condition(node.child, context)
    return predicates[node.name].condition(node.arguments, context)


def holds(node: Node, facts: MemberFacts, context: Context) -> bool:
    """Whether one member is selected, in plain Python (the per-member path)."""
    if isinstance(node, All):
        return all(holds(child, facts, context) for child in node.children)
    if isinstance(node, Any_):
        return any(holds(child, facts, context) for child in node.children)
    if isinstance(node, Not):
        return not holds(node.child, facts, context)
    return predicates[node.name].holds(node.arguments, facts, context)


def references(node: Node) -> dict[str, set[str]]:
    """The tier and tag codes the definition names, for the services to check they exist."""
    found: dict[str, set[str]] = {}
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, All | Any_):
            stack.extend(current.children)
        elif isinstance(current, Not):
            stack.append(current.child)
        else:
            for kind, codes in predicates[current.name].references(current.arguments).items():
                found.setdefault(kind, set()).update(codes)
    return found


def names_used(node: Node) -> set[str]:
    if isinstance(node, All | Any_):
        return set().union(*(names_used(child) for child in node.children))
    if isinstance(node, Not):
        return names_used(node.child)
    return {node.name}


# --- arguments shared by the predicates ---------------------------------------------------------------

BOUNDS = ("gte", "gt", "lte", "lt")
MAX_DAYS = 36_500
MAX_INTEGER = 2**62


@dataclass(frozen=True)
class Range:
    """Bounds on a number: each of gte, gt, lte, lt optional, at least one set."""

    gte: Decimal | None = None
    gt: Decimal | None = None
    lte: Decimal | None = None
    lt: Decimal | None = None

    def contains(self, value: Decimal | int) -> bool:
        return (
            (self.gte is None or value >= self.gte)
            and (self.gt is None or value > self.gt)
            and (self.lte is None or value <= self.lte)
            and (self.lt is None or value < self.lt)
        )

    def whole_limits(self) -> tuple[int | None, int | None]:
        """For a range of whole numbers: the smallest and the largest it contains (None: unbounded)."""
        fewest = [int(self.gte)] if self.gte is not None else []
        if self.gt is not None:
            fewest.append(int(self.gt) + 1)
        most = [int(self.lte)] if self.lte is not None else []
        if self.lt is not None:
            most.append(int(self.lt) - 1)
        return (max(fewest) if fewest else None, min(most) if most else None)

    def lookups(self, field_name: str) -> dict[str, Decimal]:
        """Django lookups for the bounds on `field_name` ({"growth_value__gte": 500})."""
        return {f"{field_name}__{bound}": value for bound in BOUNDS if (value := getattr(self, bound)) is not None}


def parse_range(raw: Any, path: str, problems: Problems, *, whole: bool, maximum: int = MAX_INTEGER) -> Range | None:
    if not isinstance(raw, dict) or not raw or set(raw) - set(BOUNDS):
        problems.add(path, _("Must be an object with one or more of gte, gt, lte, lt."))
        return None
    bounds = {}
    for bound, value in raw.items():
        number = parse_number(value, f"{path}.{bound}", problems, whole=whole, maximum=maximum)
        if number is None:
            return None
        bounds[bound] = number
    return Range(**bounds)


def parse_number(value: Any, path: str, problems: Problems, *, whole: bool, maximum: int = MAX_INTEGER):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        problems.add(path, _("Must be a number."))
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        problems.add(path, _("Must be a number."))
        return None
    if not number.is_finite() or abs(number) > maximum:
        problems.add(path, _("Must be between -%(maximum)s and %(maximum)s.") % {"maximum": maximum})
        return None
    if whole:
        if number != number.to_integral_value():
            problems.add(path, _("Must be a whole number."))
            return None
        return int(number)
    return number


def parse_days(value: Any, path: str, problems: Problems, *, minimum: int = 0) -> int | None:
    days = parse_number(value, path, problems, whole=True, maximum=MAX_DAYS)
    if days is not None and days < minimum:
        problems.add(path, _("Must be at least %(minimum)d.") % {"minimum": minimum})
        return None
    return days


def parse_code(value: Any, path: str, problems: Problems) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 64:
        problems.add(path, _("Must be a code (text of 1 to 64 characters)."))
        return None
    return value


def parse_codes(value: Any, path: str, problems: Problems) -> list[str] | None:
    if not isinstance(value, list) or not value:
        problems.add(path, _("Must be a non-empty list of codes."))
        return None
    codes = [parse_code(item, f"{path}.{index}", problems) for index, item in enumerate(value)]
    return None if None in codes else codes  # type: ignore[return-value]


def days_since_lookups(field_name: str, bounds: Range, context: Context) -> Q:
    """`bounds` on the days since `field_name` (a moment), as comparisons of the moment with the
    starts of program days: "at least N days since" is "before the start of the day N-1 days ago"."""
    lookups: dict[str, Any] = {f"{field_name}__isnull": False}
    fewest, most = bounds.whole_limits()
    if fewest is not None:
        lookups[f"{field_name}__lt"] = context.day_start(context.today - timedelta(days=fewest - 1))
    if most is not None:
        lookups[f"{field_name}__gte"] = context.day_start(context.today - timedelta(days=most))
    return Q(**lookups)
