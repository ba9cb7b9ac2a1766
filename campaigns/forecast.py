"""A campaign's cost forecast before launch (docs/campaigns.md, "Forecast"): the last 30 days replayed
through its terms, writing nothing — members reached, grants, points and growth, the cash cost of
the points (at the program's point value) and of its coupons, against its budget.

- Multipliers and bonuses: every matching event of the 30 days, at the member's tier and audience
  now, through the same arithmetic as the live events (campaigns.earning) with its budgets — the
  dates left out (the campaign has not started), its weekdays and hours kept. Alone: other
  campaigns' stacking is not replayed. Above SAMPLE_EVENTS events, a sample of members (every k-th
  id) stands for the rest and is scaled up; campaign-wide budgets are scaled down for it.
- Grants: the audience now. Triggered: the trigger's occurrences in the 30 days (events) or the next
  30 days (dates). Held-out members cost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Exists, F, Min, OuterRef, Q
from django.db.models.functions import ExtractMonth

from loyalty import planner
from loyalty.config import current_config
from loyalty.models import Event, EventType, TierChange
from loyalty.services.event_plans import program_of
from members.models import Member
from rewards.models import CouponTemplate

from . import terms as campaign_terms
from .earning import Allowance, Setting, campaign_lines, counters_of, held_out, in_window, matches_event
from .grants import in_audience
from .models import Campaign, CampaignGrant, SegmentMember
from .selectors import running_of

DAYS = 30
SAMPLE_EVENTS = 200_000


@dataclass(frozen=True)
class Forecast:
    days: int
    events: int  # events (or occurrences) replayed
    members: int
    grants: int
    points: int
    growth: int
    coupons: int
    points_cost: Decimal
    coupons_cost: Decimal
    budget_points: int | None
    sample_every: int  # 1: every member; k: one member in k, scaled up

    @property
    def cost(self) -> Decimal:
        return self.points_cost + self.coupons_cost

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "events": self.events,
            "members": self.members,
            "grants": self.grants,
            "points": self.points,
            "growth": self.growth,
            "coupons": self.coupons,
            "points_cost": str(self.points_cost),
            "coupons_cost": str(self.coupons_cost),
            "budget_points": self.budget_points,
            "sample_every": self.sample_every,
        }


def forecast_campaign(campaign: Campaign, *, now: datetime) -> Forecast:
    running = running_of(campaign)
    if running.terms.kind in campaign_terms.EARNING_KINDS:
        return _earning_forecast(campaign, now)
    return _reward_forecast(campaign, now)


def _cost(points: int, coupons: int, template_code: str | None) -> tuple[Decimal, Decimal]:
    settings = current_config().settings
    coupon_value = Decimal(0)
    if coupons and template_code:
        template = CouponTemplate.objects.filter(code=template_code).first()
        if template is not None and template.kind == CouponTemplate.Kind.AMOUNT_OFF:
            coupon_value = template.value
    return (Decimal(points) * settings.point_value).quantize(Decimal("0.01")), coupon_value * coupons


def _budget_points(running) -> int | None:
    limit = running.terms.budget.points
    return limit.amount if limit is not None else None


# --- multipliers and bonuses ------------------------------------------------------------------------------


def _earning_forecast(campaign: Campaign, now: datetime) -> Forecast:
    running = running_of(campaign)
    terms = running.terms
    config = current_config()
    since = now - timedelta(days=DAYS)
    events = Event.objects.filter(
        occurred_at__gte=since,
        occurred_at__lt=now,
        event_type__in=terms.event_types,
        member__in=in_audience(Member.objects.all(), campaign, at=now),
    )
    if terms.min_amount is not None:
        events = events.filter(amount__gte=terms.min_amount)
    total = events.count()
    every = max(1, math.ceil(total / SAMPLE_EVENTS))
    if every > 1:
        events = events.annotate(bucket=F("member_id") % every).filter(bucket=0)
    earlier_purchase = Event.objects.filter(
        member=OuterRef("member"), event_type=EventType.PURCHASE, occurred_at__lt=OuterRef("occurred_at")
    )
    rows = events.annotate(bought_before=Exists(earlier_purchase)).values_list(
        "member_id", "member__tier_id", "event_type_id", "occurred_at", "amount", "order_id", "bought_before"
    )
    timeless = replace(running, terms=replace(terms, starts_at=None, ends_at=None))
    setting = Setting(config.settings.zone, config.settings.max_total_multiplier)
    program = program_of(config)
    allowance = _LimitedAllowance(every)
    members, grants, points, growth = set(), 0, 0, 0
    for member_id, tier_id, event_type, occurred_at, amount, order_id, bought_before in rows.iterator(chunk_size=5000):
        if held_out(running.salt, member_id, running.holdout_percent):
            continue
        facts = planner.EventFacts(event_type, occurred_at, amount, order_id)
        state = _member_state(config.tier(tier_id), bought_before)
        if not (matches_event(timeless.terms, facts, state) and in_window(timeless.terms, occurred_at, setting.zone)):
            continue
        lines = planner.earning_lines(facts, state, program, rules=config.rules_for(event_type))
        added = campaign_lines(
            facts, state, tuple(lines), [timeless], member_key=member_id, setting=setting, allowance=allowance
        )
        got_points, got_growth = sum(int(line.points) for line in added), sum(int(line.growth) for line in added)
        if got_points or got_growth:
            members.add(member_id)
            grants += 1
            points += got_points
            growth += got_growth
    points_cost, coupons_cost = _cost(points * every, 0, None)
    return Forecast(
        days=DAYS,
        events=total,
        members=len(members) * every,
        grants=grants * every,
        points=points * every,
        growth=growth * every,
        coupons=0,
        points_cost=points_cost,
        coupons_cost=coupons_cost,
        budget_points=_budget_points(running),
        sample_every=every,
    )


class _LimitedAllowance(Allowance):
    """An allowance that starts every counter at its limit (a campaign that has used nothing yet),
    campaign-wide limits divided among the sample."""

    def __init__(self, every: int):
        super().__init__()
        self.every = every

    def take(self, counters, growth, points):
        for name, (key, limit) in counters.items():
            if key not in self.left:
                self.left[key] = limit if name.startswith("per_member") else max(limit // self.every, 0)
        return super().take(counters, growth, points)


def _member_state(tier, bought_before: bool) -> planner.MemberState:
    """The member as the replay needs it: the tier now, and whether a purchase came before."""
    return planner.MemberState(
        growth_value=0,
        points_available=0,
        points_pending=0,
        tier=tier,
        tier_since=datetime.min,
        last_activity_at=None,
        last_purchase_at=None,
        purchase_count=1 if bought_before else 0,
        purchase_amount=Decimal(0),
    )


# --- grants and triggers -----------------------------------------------------------------------------------


def _reward_forecast(campaign: Campaign, now: datetime) -> Forecast:
    running = running_of(campaign)
    terms = running.terms
    audience = in_audience(Member.objects.all(), campaign, at=now)
    occurring = _occurring(campaign, audience, now)
    member_ids = [m for m in occurring if not held_out(running.salt, m, running.holdout_percent)]
    reward = terms.reward or campaign_terms.Reward()
    allowance = _LimitedAllowance(1)
    day = now.astimezone(current_config().settings.zone).date()
    grants = points = growth = 0
    for member_id in member_ids:
        got_growth, got_points = allowance.take(counters_of(running, member_id, day), reward.growth, reward.points)
        if got_points or got_growth or (reward.coupon_template and not terms.budget.limits()):
            grants += 1
            points += got_points
            growth += got_growth
    coupons = grants if reward.coupon_template else 0
    points_cost, coupons_cost = _cost(points, coupons, reward.coupon_template)
    return Forecast(
        days=DAYS,
        events=len(occurring),
        members=len(set(member_ids)),
        grants=grants,
        points=points,
        growth=growth,
        coupons=coupons,
        points_cost=points_cost,
        coupons_cost=coupons_cost,
        budget_points=_budget_points(running),
        sample_every=1,
    )


def _occurring(campaign: Campaign, audience, now: datetime) -> list[int]:
    """The member ids of the occurrences a grant or trigger would have (one per occurrence)."""
    running = running_of(campaign)
    trigger = running.terms.trigger
    since, until = now - timedelta(days=DAYS), now + timedelta(days=DAYS)
    if trigger is None:  # a grant: the audience now, less those given it
        given = CampaignGrant.objects.filter(campaign=campaign, member=OuterRef("pk"))
        return list(audience.exclude(Exists(given)).values_list("pk", flat=True))
    if trigger.type == "member.enrolled":
        return list(audience.filter(joined_at__gte=since).values_list("pk", flat=True))
    if trigger.type == "first_purchase":
        firsts = (
            Event.objects.filter(event_type=EventType.PURCHASE, member__in=audience)
            .values("member_id")
            .annotate(first=Min("occurred_at"))
            .filter(first__gte=since)
        )
        return [row["member_id"] for row in firsts]
    if trigger.type == "tier.upgraded":
        moves = TierChange.objects.filter(created_at__gte=since, reason=TierChange.Reason.UPGRADE, member__in=audience)
        if trigger.tier:
            moves = moves.filter(to_tier__code=trigger.tier)
        return list(moves.values_list("member_id", flat=True))
    if trigger.type == "segment.entered":
        version = campaign.current.segment_version_id
        return list(
            SegmentMember.objects.filter(version_id=version, entered_at__gte=since).values_list("member_id", flat=True)
        )
    zone = current_config().settings.zone
    days = [(now + timedelta(days=n)).astimezone(zone).date() for n in range(DAYS)]
    if trigger.type == "birthday":
        if trigger.on == "day":
            on_days = Q()
            for day in days:
                on_days |= Q(birthday__month=day.month, birthday__day=day.day)
            return list(audience.filter(on_days).values_list("pk", flat=True))
        return list(audience.filter(birthday__month__in={d.month for d in days}).values_list("pk", flat=True))
    if trigger.type == "anniversary":
        joined = audience.annotate(joined_month=ExtractMonth("joined_at", tzinfo=zone)).filter(
            joined_month__in={d.month for d in days}, joined_at__lt=now - timedelta(days=300)
        )
        return [
            pk
            for pk, joined_at in joined.values_list("pk", "joined_at")
            if _next_year(joined_at.astimezone(zone).date(), days[0].year) in days
            or _next_year(joined_at.astimezone(zone).date(), days[0].year + 1) in days
        ]
    dormant_by = until - timedelta(days=trigger.days or 0)
    return list(audience.filter(last_purchase_at__lte=dormant_by).values_list("pk", flat=True))


def _next_year(day, year: int):
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)
