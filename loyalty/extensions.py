"""The engine's extension points: how the apps above it (rewards, campaigns and those to come) plug
into the engine without the engine importing them.

Layers point one way (docs/architecture.md): campaigns -> rewards -> loyalty -> members. Each app
registers its contributions here in its `AppConfig.ready()`; the engine only ever iterates the
registries. The engine registers its own built-ins the same way, so there are no special cases.

| registry | what an entry is | who reads it |
|---|---|---|
| `jobs` | a scheduled job (`ScheduledJob`) | the job machinery, `run_job`, `setup_schedules`, the admin |
| `interval_tasks` | a Celery task beat starts every few seconds (`IntervalTask`) | `setup_schedules` |
| `audit_checks` | a function yielding `Finding`s | `loyalty_audit` |
| `program_sections` | a section of the program file (`ProgramSection`) | the program file's parse, apply, export |
| `config_writers` | how a configuration model is saved (`ConfigWriter`) | admin forms, imports, program file |
| `card_sections` | a part of the storefront member card (`CardSection`) | `GET members/{id}/` |
| `ladder_details` | extra fields of each tier in `GET tiers/` (`LadderDetail`) | `GET tiers/` |
| `member_panels` | a panel of the admin's member page (`MemberPanel`) | the member 360 page |
| `member_list_columns` | a column of the admin's member list (`MemberListColumn`) | the member list |
| `member_list_filters` | a list filter of the admin's member list | the member list |
| `member_actions` | an action of the admin's member list (`MemberAction`) | the member list |
| `economics_sources` | the mall's figures for the points economics report | the program design report |
| `demo_steps` | a step of the demo's setup (`DemoStep`) | `manage.py demo` |
| `personal_data_erasers` | erases an app's copy of a member's personal data | `anonymise_member` |
| `earning_contributors` | earnings added to events (`EarningContributor`) | the event planner, every event path |
| `outbox_subscribers` | a consumer of the domain events (`Subscriber`) | the relay (loyalty.outbox) |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries, kept in the order of their `order` (then of registration)."""

    def __init__(self, what: str):
        self.what = what
        self._entries: dict[str, tuple[int, int, T]] = {}

    def register(self, name: str, entry: T, *, order: int = 100) -> T:
        if name in self._entries:
            raise ImproperlyConfigured(f"A {self.what} named {name!r} is registered twice.")
        self._entries[name] = (order, len(self._entries), entry)
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        return self._entries[name][2]

    def get(self, name: str) -> T | None:
        found = self._entries.get(name)
        return found[2] if found is not None else None

    def names(self) -> list[str]:
        return [name for name, _ in self.items()]

    def items(self) -> list[tuple[str, T]]:
        return [(name, entry) for name, (_, _, entry) in sorted(self._entries.items(), key=lambda item: item[1][:2])]

    def __iter__(self) -> Iterator[T]:
        return iter([entry for _, entry in self.items()])

    def unregister(self, name: str) -> None:
        """For tests that register a contribution of their own."""
        del self._entries[name]


# --- scheduled jobs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkResult:
    members_changed: int
    entries_written: int


@dataclass(frozen=True)
class Schedule:
    """When Celery beat starts the job, in the program's time zone (a crontab's fields)."""

    minute: str
    hour: str
    day_of_month: str = "*"


@dataclass(frozen=True)
class ScheduledJob:
    """A job run by the engine's machinery: one JobRun per period, member-id chunks, each chunk one
    transaction with its own "done" mark (loyalty.services.jobs)."""

    label: Any  # the human name (lazily translated)
    description: Any  # one line: what a run does
    period_format: str  # strftime of as_of in the program time zone: one run per period
    run_chunk: Callable[..., ChunkResult]  # (first_id, last_id, as_of, *, period, run_id)
    preview: Callable[[datetime], list[dict]]  # what a run as of then would change: loyalty.job_summaries lines
    schedule: Schedule | None = None
    on_finish: Callable[..., None] | None = None  # (*, run) in the transaction that marks a run done


jobs: Registry[ScheduledJob] = Registry("scheduled job")


@dataclass(frozen=True)
class IntervalTask:
    """A Celery task that beat starts every `seconds` (setup_schedules makes its schedule)."""

    task: str  # the Celery task's name
    seconds: int


interval_tasks: Registry[IntervalTask] = Registry("interval task")


# --- loyalty_audit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    detail: str


audit_checks: Registry[Callable[[int], Iterable[Finding]]] = Registry("audit check")


# --- the program file ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramSection:
    """A top-level key of the program file: checked without the database (`parse`, which adds its
    problems to the errors by path and returns the section's value), applied in the program file's
    transaction (`apply`, which appends one line per change), and exported (`export`). A staff
    member needs `permission` to change it. Sections are applied in their registered order (a
    reward's coupon template before the reward)."""

    parse: Callable[[Any, Any], Any]  # (ProgramErrors, raw JSON) -> parsed value
    apply: Callable[[Any, list[str], Any], None]  # (parsed value, changes, actor), through the config writers
    export: Callable[[], Any]
    permission: str


program_sections: Registry[ProgramSection] = Registry("program file section")

# Keyed by the model's label ("loyalty.Tier"); the entries are loyalty.services.configuration.ConfigWriter.
config_writers: Registry[Any] = Registry("configuration writer")


# --- screens: the storefront card, the ladder, the member page, the economics report -------------------


@dataclass(frozen=True)
class CardSection:
    """A part of the storefront's member card, read in the card's one statement on PostgreSQL.

    `sql` is a LATERAL subquery over the member row `m` that returns exactly one row with
    `columns` columns; `params(now, config)` gives its parameters in order. `build(member, values,
    now, config)` turns those values into the section's object and `body(obj)` into JSON;
    `load(member, now)` reads the same object without the statement (other databases).
    `field(**kwargs)` is the serializer field that renders the object the same way and describes the
    body in the OpenAPI schema."""

    sql: Callable[[], str]
    columns: int
    params: Callable[[datetime, Any], list[Any]]
    build: Callable[[Any, tuple, datetime, Any], Any]
    load: Callable[[Any, datetime], Any]
    body: Callable[[Any], Any]
    field: Callable[..., Any]  # (**serializer field options) -> the field


card_sections: Registry[CardSection] = Registry("member card section")


@dataclass(frozen=True)
class LadderDetail:
    """An extra field of each tier in `GET tiers/`: `field()` is a serializer field of the tier."""

    field: Callable[[], Any]


ladder_details: Registry[LadderDetail] = Registry("ladder detail")


@dataclass(frozen=True)
class MemberPanel:
    """A panel of the admin's member page: `template` rendered with `rows` = `rows(member)`."""

    template: str
    rows: Callable[[Any], list[Any]]


member_panels: Registry[MemberPanel] = Registry("member panel")


@dataclass(frozen=True)
class MemberListColumn:
    """A column of the admin's member list: `render(member)` (an `admin.display` function), with
    `prefetch(queryset)` reading what it shows for the page's members at once."""

    render: Callable[[Any], Any]
    prefetch: Callable[[Any], Any]


@dataclass(frozen=True)
class MemberAction:
    """An action of the admin's member list: Django's action signature (modeladmin, request,
    queryset), offered only to staff holding `permission` ("app_label.codename"); the service it
    calls checks the permission again."""

    function: Callable[[Any, Any, Any], Any]
    description: Any
    permission: str


# The admin's member list: columns, list filters (SimpleListFilter classes) and actions of other apps.
member_list_columns: Registry[MemberListColumn] = Registry("member list column")
member_list_filters: Registry[Any] = Registry("member list filter")
member_actions: Registry[MemberAction] = Registry("member action")


@dataclass(frozen=True)
class EconomicsSource:
    """Figures of an app in the points economics report. `redeemed(since)`: (code, name, units,
    points, cash value per unit) per reward redeemed; `granted(since, zone)`: (month, tier code,
    coupon kind, coupon face value, grants, coupons, points) of the benefits granted;
    `campaign_costs(since, zone)`: (month, campaign code, name, grants, points, coupons, coupons'
    face value) given by campaigns; `campaign_liability()`: (campaign code, name, points still held)."""

    redeemed: Callable[[datetime], list[tuple]] = lambda since: []
    granted: Callable[[datetime, Any], list[tuple]] = lambda since, zone: []
    campaign_costs: Callable[[datetime, Any], list[tuple]] = lambda since, zone: []
    campaign_liability: Callable[[], list[tuple]] = lambda: []


economics_sources: Registry[EconomicsSource] = Registry("economics source")


# --- the demo ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStep:
    """Something `manage.py demo` sets up after the members' histories (`run(stdout, seed)`)."""

    run: Callable[[Any, int], None]


demo_steps: Registry[DemoStep] = Registry("demo step")


# --- personal data -------------------------------------------------------------------------------------

# Callables (member) -> None that erase what an app keeps of a member's personal data (a shipping
# address, an event's free-form data), called by loyalty.services.privacy.anonymise_member in its
# transaction, after the member's own profile is erased. Ledgers and amounts are kept.
personal_data_erasers: Registry[Callable[[Any], None]] = Registry("personal data eraser")


# --- the event planner ---------------------------------------------------------------------------------

# loyalty.planner.EarningContributor entries, applied in their order after the rules and the tier
# multiplier, before the caps and the rounding (loyalty.planner's docstring).
earning_contributors: Registry[Any] = Registry("earning contributor")


# --- the domain events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEvent:
    """A domain event as the relay hands it over (members.outbox, docs/architecture.md)."""

    id: str  # a UUIDv7: sortable, unique; the webhooks' message id
    type: str
    schema_version: int
    occurred_at: datetime
    member: str  # the member's external id ("" for events about no member, such as job.finished)
    sequence: int | None  # rises with each of the member's changes (not by one)
    payload: dict
    position: int  # the relay's delivery order of its batch
    member_id: int | None = None  # the member's primary key here (never sent out)

    @classmethod
    def of(cls, row: Any, position: int) -> OutboxEvent:
        return cls(
            id=str(row.id),
            type=row.type,
            schema_version=row.schema_version,
            occurred_at=row.occurred_at,
            member=row.member_external_id,
            sequence=row.member_sequence,
            payload=row.payload,
            position=position,
            member_id=row.member_id,
        )


@dataclass(frozen=True)
class Subscriber:
    """Receives the domain events: `handle(events)` is called with the next events in delivery
    order, in the relay's transaction (its own writes commit with the progress it makes; if it
    raises, they are rolled back and the same events come again after a back-off). At least once:
    a handler must be idempotent. `types` limits what it is handed (None: every type); a new
    subscriber starts after the events numbered when it first runs, unless `from_start`.

    A set-based subscriber gives `handle_range(after, upto)` instead: called with the batch
    positions (after, upto] rather than the loaded events, it reads them in SQL itself
    (loyalty.outbox.events_between, or the tables) and returns how many rows it made of them (the
    subscriber's "delivered" count: the webhooks' counts deliveries, events times endpoints)."""

    handle: Callable[[list[OutboxEvent]], None] | None = None
    types: frozenset[str] | None = None
    from_start: bool = False
    handle_range: Callable[[int, int], int] | None = None

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.handle_range is None):
            raise ImproperlyConfigured("An outbox subscriber has either handle or handle_range.")
        if self.handle_range is not None and self.types is not None:
            raise ImproperlyConfigured("A set-based subscriber (handle_range) chooses its events itself: no types.")


outbox_subscribers: Registry[Subscriber] = Registry("outbox subscriber")
