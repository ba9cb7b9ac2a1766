"""What running multiplier and bonus campaigns add to an event: pure arithmetic, no database (the
engine's earning contributor in campaigns.contributor feeds it).

The order (docs/campaigns.md, "Evaluation order"): the base rules and the tier multiplier are the
lines so far; then each campaign that matches the event, its member and its moment, in order of
priority (highest first, then code) — in the exclusive stack group only the highest-priority match,
stackable ones all. Multipliers are **added, not compounded**: a rule's points are multiplied by
tier multiplier + Σ(campaign multiplier − 1), capped by the program's max_total_multiplier (the
earlier campaigns in the order get their share of the room first); growth by 1 + Σ(growth
multiplier − 1) under the same cap. Then the bonuses. Then the budgets clip what is left. Each line
is the campaign's whole share of the one rounding (planner.rounded_share).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty import reason_codes
from loyalty.planner import EarningLine, EventFacts, GrantKey, MemberState, rounded_share
from loyalty.reason_codes import Reason

from . import terms as campaign_terms
from .terms import Terms

SOURCE = "campaign"  # GrantKey.source of a campaign's lines
CAMPAIGN_WIDE = 0  # BudgetCounter.member_id of a campaign-wide limit
TOTAL_PERIOD = date(1970, 1, 1)  # BudgetCounter.period_start of a limit per total


@dataclass(frozen=True)
class RunningCampaign:
    """A published campaign's version in force, as the contributor needs it."""

    id: int
    code: str
    name: str
    version_id: int
    version: int
    terms: Terms
    salt: str
    holdout_percent: int

    @functools.cached_property  # every event's line asks; frozen dataclasses are slow to make
    def key(self) -> GrantKey:
        return GrantKey(SOURCE, self.code, self.version)

    @functools.cached_property
    def reason(self) -> Reason:
        return Reason(
            reason_codes.CAMPAIGN, {"name": self.name, "campaign": self.id, "code": self.code, "version": self.version}
        )

    def reason_for(self, grant_id: int) -> Reason:
        """The reason of a triggered or one-off grant's lots: it names the grant."""
        return Reason(reason_codes.CAMPAIGN, {**self.reason.params, "grant": grant_id})


# --- when and to whom -----------------------------------------------------------------------------------


def in_window(terms: Terms, at: datetime, zone: ZoneInfo) -> bool:
    """Whether `at` is within the campaign's dates, weekdays and hours (in the program's time zone)."""
    if terms.starts_at is not None and at < terms.starts_at:
        return False
    if terms.ends_at is not None and at >= terms.ends_at:
        return False
    if not terms.weekdays and terms.hours is None:  # most campaigns: every event in their dates
        return True
    local = at.astimezone(zone)
    if terms.weekdays and local.isoweekday() not in terms.weekdays:
        return False
    if terms.hours is not None:
        start, end = terms.hours
        moment = local.time().replace(tzinfo=None)
        within = start <= moment < end if start < end else (moment >= start or moment < end)
        if not within:
            return False
    return True


@dataclass(frozen=True)
class Belonging:
    """What the audience test needs to know of a member besides its state: its tags' codes and the
    segment versions it is in."""

    tags: frozenset[str] = frozenset()
    segment_versions: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Pins:
    """The segment versions a campaign version's audience is pinned to (None: none named)."""

    segment_version: int | None = None
    exclude_segment_version: int | None = None


def in_audience(terms: Terms, tier_code: str, belonging: Belonging, pins: Pins) -> bool:
    audience = terms.audience
    if audience.tiers and tier_code not in audience.tiers:
        return False
    if audience.tags and not set(audience.tags) <= belonging.tags:
        return False
    if audience.exclude_tags and set(audience.exclude_tags) & belonging.tags:
        return False
    if audience.segment and pins.segment_version not in belonging.segment_versions:
        return False
    return not (audience.exclude_segment and pins.exclude_segment_version in belonging.segment_versions)


def held_out(salt: str, member_key: Any, percent: int) -> bool:
    """Whether a member is in the campaign's holdout: a hash of (the campaign's salt, the member's
    id), so stable for the campaign's life and independent between campaigns."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{salt}:{member_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def in_global_control(control: tuple[str, int], member_key: Any) -> bool:
    """Whether the program's global control group (salt, percent) holds the member: no marketing
    campaign touches it."""
    salt, percent = control
    return held_out(salt, member_key, percent)


def matches_event(terms: Terms, facts: EventFacts, member: MemberState) -> bool:
    if facts.event_type not in terms.event_types:
        return False
    if terms.min_amount is not None and (facts.amount or 0) < terms.min_amount:
        return False
    return not (terms.first_purchase_only and (facts.event_type != "purchase" or member.purchase_count > 0))


def stacked(campaigns: Iterable[RunningCampaign]) -> list[RunningCampaign]:
    """The matching campaigns that apply, in order: every stackable one and the highest-priority
    exclusive one (ties: the first code)."""
    ordered = sorted(campaigns, key=lambda c: (-c.terms.priority, c.code))
    exclusive = [c for c in ordered if c.terms.stack_group == campaign_terms.EXCLUSIVE]
    return [c for c in ordered if c.terms.stack_group != campaign_terms.EXCLUSIVE or c is exclusive[0]]


# --- budgets ------------------------------------------------------------------------------------------------

CounterKey = tuple[int, str, int, date]  # (campaign id, budget name, member id or 0, period start)


def period_start(day: date, per: str) -> date:
    if per == "day":
        return day
    if per == "week":
        return day - timedelta(days=day.weekday())
    if per == "month":
        return day.replace(day=1)
    return TOTAL_PERIOD


def counters_of(campaign: RunningCampaign, member_id: int, day: date) -> dict[str, tuple[CounterKey, int]]:
    """The campaign's budget counters an event of this member on this (program) day counts in, by
    budget name, with each limit."""
    limits = campaign.terms.budget.limits()
    if not limits:
        return {}
    found = {}
    for name, limit in limits.items():
        scope = member_id if name.startswith("per_member") else CAMPAIGN_WIDE
        found[name] = ((campaign.id, name, scope, period_start(day, limit.per)), limit.amount)
    return found


def counts_points(name: str) -> bool:
    return name.endswith("points")


@dataclass
class Allowance:
    """What is left of the budgets, known once the counters are locked: a chunk planned again after
    a budget ran out takes its grants from it in order. Counters it does not know are not limited
    here; their claim decides (and may ask for another plan)."""

    left: dict[CounterKey, int] = field(default_factory=dict)

    def take(
        self, counters: Mapping[str, tuple[CounterKey, int]], growth: int, points: int, *, coupon: bool = False
    ) -> tuple[int, int] | None:
        """The (growth, points) granted of the desired — points clipped to what is left — and takes
        them; None when the grant is refused (no grant left, or nothing left to give). A grant with a
        `coupon` is given even when its points are clipped to nothing."""
        if not (growth or points or coupon):
            return None
        for name, (key, _limit) in counters.items():
            if not counts_points(name) and self.left.get(key, 1) < 1:
                return None
        for name, (key, _limit) in counters.items():
            if counts_points(name) and key in self.left:
                points = min(points, max(self.left[key], 0))
        if not (growth or points or coupon):
            return None
        for name, (key, _limit) in counters.items():
            if key in self.left:
                self.left[key] -= points if counts_points(name) else 1
        return growth, points


# --- the lines ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """The program's side: the time zone (for windows and budget periods) and the multiplier cap."""

    zone: ZoneInfo
    max_total_multiplier: Decimal


def campaign_lines(
    facts: EventFacts,
    member: MemberState,
    lines: tuple[EarningLine, ...],
    applying: list[RunningCampaign],
    *,
    member_key: Any,
    setting: Setting,
    allowance: Allowance | None,
    exhausted: frozenset[CounterKey] = frozenset(),
) -> list[EarningLine]:
    """The lines of the campaigns that apply (`stacked`, in order) to an event with these lines so
    far. A held-out member's lines grant nothing and record what they would have; `allowance` (after
    a budget ran out) clips them; `exhausted` counters give nothing."""
    rule_lines = [line for line in lines if line.rule is not None and line.source == "rule"]
    so_far: dict[Any, list[Decimal]] = {}  # rule pk -> [growth, points] of its lines so far
    for line in lines:
        if line.rule is not None:
            totals = so_far.setdefault(line.rule.pk, [Decimal(0), Decimal(0)])
            totals[0] += line.growth
            totals[1] += line.points
    room = _Room(setting.max_total_multiplier)
    added: list[EarningLine] = []
    multipliers_first = sorted(applying, key=lambda c: c.terms.kind != campaign_terms.MULTIPLIER)
    for campaign in multipliers_first:
        terms = campaign.terms
        desired: list[_Desired] = []
        if terms.kind == campaign_terms.MULTIPLIER:
            for line in rule_lines:
                wanted = room.shares(line, member, terms, so_far[line.rule.pk], facts)
                if wanted.growth or wanted.points:
                    desired.append(wanted)
        elif terms.points or terms.growth:
            desired.append(_Desired(None, terms.growth, terms.points, Decimal(terms.growth), Decimal(terms.points)))
        if not desired:
            continue
        counters = (
            counters_of(campaign, member_key, facts.occurred_at.astimezone(setting.zone).date())
            if campaign.terms.budget.limits()
            else {}
        )
        want_growth = sum(wanted.growth for wanted in desired)
        want_points = sum(wanted.points for wanted in desired)
        granted: tuple[int, int] | None = (want_growth, want_points)
        if held_out(campaign.salt, member_key, campaign.holdout_percent):
            granted = None
        elif any(key in exhausted for key, _ in counters.values()):
            granted = _without_exhausted(counters, exhausted, want_growth, want_points)
        if granted is not None and allowance is not None:  # both: a remembered and a locked count
            granted = allowance.take(counters, *granted)
        granted = granted or (0, 0)
        added += _spread(campaign, desired, granted, so_far)
    return added


def _without_exhausted(
    counters: Mapping[str, tuple[CounterKey, int]], exhausted: frozenset[CounterKey], growth: int, points: int
) -> tuple[int, int] | None:
    """A used-up grants limit refuses the grant; a used-up points limit leaves its growth."""
    for name, (key, _) in counters.items():
        if key in exhausted:
            if not counts_points(name):
                return None
            points = 0
    return (growth, points) if growth or points else None


@dataclass(frozen=True)
class _Desired:
    """A campaign's wanted line: its whole share and the exact amount it stands for (which later
    campaigns' shares are rounded after, so that all shares sum to one rounding of the total)."""

    rule: Any
    growth: int
    points: int
    exact_growth: Decimal
    exact_points: Decimal


class _Room:
    """How much multiplying is left under the cap, per rule line: the first campaigns in the order
    take their share of it first."""

    def __init__(self, cap: Decimal):
        self.cap = cap
        self.used: dict[tuple[Any, str], Decimal] = {}

    def shares(
        self, line: EarningLine, member: MemberState, terms: Terms, totals: list[Decimal], facts: EventFacts
    ) -> _Desired:
        """The campaign's whole (growth, points) on a rule's line (the desired, before budgets)."""
        rule = line.rule
        amount = Decimal(facts.amount or 0)
        base_points = Decimal(rule.points) + rule.points_per_unit * amount
        base_growth = Decimal(rule.growth) + rule.growth_per_unit * amount
        tier = member.tier.points_multiplier if rule.apply_tier_multiplier else Decimal(1)
        points_extra = self._take((rule.pk, "points"), terms.points_multiplier - 1, max(self.cap - tier, Decimal(0)))
        growth_extra = self._take((rule.pk, "growth"), terms.growth_multiplier - 1, self.cap - 1)
        exact_points = base_points * points_extra if base_points > 0 else Decimal(0)
        exact_growth = base_growth * growth_extra if base_growth > 0 else Decimal(0)
        return _Desired(
            rule,
            rounded_share(totals[0], exact_growth),
            rounded_share(totals[1], exact_points),
            exact_growth,
            exact_points,
        )

    def _take(self, key: tuple[Any, str], wanted: Decimal, room: Decimal) -> Decimal:
        used = self.used.get(key, Decimal(0))
        taken = max(min(wanted, room - used), Decimal(0))
        self.used[key] = used + taken
        return taken


def _spread(
    campaign: RunningCampaign,
    desired: list[_Desired],
    granted: tuple[int, int],
    so_far: dict[Any, list[Decimal]],
) -> list[EarningLine]:
    """The campaign's lines: what was granted in total, spread over its desired lines in order. The
    rule's running total grows by the exact amount when it was granted whole, else by what was."""
    growth_left, points_left = granted
    lines = []
    for wanted in desired:
        got_growth, got_points = min(wanted.growth, growth_left), min(wanted.points, points_left)
        growth_left -= got_growth
        points_left -= got_points
        if wanted.rule is not None:
            totals = so_far[wanted.rule.pk]
            totals[0] += wanted.exact_growth if got_growth == wanted.growth else Decimal(got_growth)
            totals[1] += wanted.exact_points if got_points == wanted.points else Decimal(got_points)
        lines.append(
            EarningLine(
                growth=Decimal(got_growth),
                points=Decimal(got_points),
                reason=campaign.reason,
                rule=wanted.rule,
                source=SOURCE,
                grant=campaign.key,
                desired=(wanted.growth, wanted.points),
            )
        )
    return lines
