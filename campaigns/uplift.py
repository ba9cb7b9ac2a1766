"""A campaign's uplift against its holdout (docs/campaigns.md, "Holdout and uplift"): intent to
treat — every member assigned when it was published (CampaignAssignment), treated against held
out, whatever they did — over the window fixed at launch (its start to its end, or now). Never
redeemers against non-redeemers.

Per group: members, purchase rate, spend per member (purchases less returns in the window), the
campaign's points per member (granted less released). The differences (treated − held out) with
95% confidence intervals by Welch's t-test (scipy: unequal variances, as the groups' sizes and
spreads differ), the incremental spend per point spent, and a verdict: `inconclusive` below
MIN_SAMPLE members in either group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy
from django.db.models import Count, Sum
from scipy import stats

from loyalty.config import current_config
from loyalty.models import Event, EventType

from .earning import held_out, in_global_control
from .models import Campaign, CampaignAssignment, CampaignGrant
from .selectors import running_of

MIN_SAMPLE = 100
CONFIDENCE = 0.95

INCONCLUSIVE, POSITIVE, NEGATIVE, NO_EFFECT = "inconclusive", "positive", "negative", "no_detectable_effect"


@dataclass(frozen=True)
class Group:
    members: int
    purchasers: int
    spend: float  # per member
    points: float  # the campaign's points per member

    @property
    def purchase_rate(self) -> float:
        return self.purchasers / self.members if self.members else 0.0


@dataclass(frozen=True)
class Difference:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Uplift:
    starts: datetime
    ends: datetime
    treated: Group
    held_out: Group
    spend: Difference
    purchase_rate: Difference
    spend_per_point: float | None  # incremental spend per point spent
    verdict: str


def _welch(treated: numpy.ndarray, control: numpy.ndarray) -> Difference:
    estimate = float(treated.mean() - control.mean())
    if treated.var() == 0 and control.var() == 0:
        return Difference(estimate, estimate, estimate)
    interval = stats.ttest_ind(treated, control, equal_var=False).confidence_interval(CONFIDENCE)
    return Difference(estimate, float(interval.low), float(interval.high))


def window_of(campaign: Campaign, now: datetime) -> tuple[datetime, datetime] | None:
    """From its launch (first publication, or its start if later) to its end (or now)."""
    first = campaign.versions.filter(published_at__isnull=False).order_by("number").first()
    if first is None or first.published_at is None:
        return None
    terms = running_of(campaign).terms
    launched: datetime = first.published_at
    starts = max(launched, terms.starts_at) if terms.starts_at else launched
    ends = min(terms.ends_at, now) if terms.ends_at else now
    return (starts, ends) if ends > starts else None


def uplift_report(campaign: Campaign, *, now: datetime) -> Uplift | None:
    """None when the campaign has no holdout or has not run yet."""
    window = window_of(campaign, now)
    if campaign.holdout_percent == 0 or window is None:
        return None
    starts, ends = window
    settings = current_config().settings
    control = (settings.control_salt, settings.global_control_percent)
    assigned = [
        member_id
        for member_id in CampaignAssignment.objects.filter(campaign=campaign).values_list("member_id", flat=True)
        if not in_global_control(control, member_id)
    ]
    spend: defaultdict[int, Decimal] = defaultdict(Decimal)
    bought: set[int] = set()
    events = Event.objects.filter(
        member_id__in=CampaignAssignment.objects.filter(campaign=campaign).values("member_id"),
        occurred_at__gte=starts,
        occurred_at__lt=ends,
        event_type__in=[EventType.PURCHASE, EventType.RETURN],
    )
    for member_id, event_type, total, count in (
        events.values_list("member_id", "event_type").annotate(total=Sum("amount"), n=Count("id")).order_by()
    ):
        if event_type == EventType.PURCHASE:
            spend[member_id] += total or 0
            if count:
                bought.add(member_id)
        else:
            spend[member_id] -= total or 0
    granted = CampaignGrant.objects.filter(campaign=campaign, held_out=False).aggregate(
        points=Sum("points"), released=Sum("points_released")
    )
    points = (granted["points"] or 0) - (granted["released"] or 0)
    held = {m for m in assigned if held_out(campaign.salt, m, campaign.holdout_percent)}
    treated_ids = [m for m in assigned if m not in held]
    held_ids = [m for m in assigned if m in held]
    spend_t = numpy.array([float(spend[m]) for m in treated_ids])
    spend_c = numpy.array([float(spend[m]) for m in held_ids])
    bought_t = numpy.array([1.0 if m in bought else 0.0 for m in treated_ids])
    bought_c = numpy.array([1.0 if m in bought else 0.0 for m in held_ids])
    points_each = points / len(treated_ids) if treated_ids else 0.0
    treated = Group(len(treated_ids), int(bought_t.sum()), _mean(spend_t), points_each)
    control_group = Group(len(held_ids), int(bought_c.sum()), _mean(spend_c), 0.0)
    if min(len(treated_ids), len(held_ids)) < 2:
        nothing = Difference(0.0, 0.0, 0.0)
        return Uplift(starts, ends, treated, control_group, nothing, nothing, None, INCONCLUSIVE)
    spend_difference = _welch(spend_t, spend_c)
    rate_difference = _welch(bought_t, bought_c)
    per_point = spend_difference.estimate / treated.points if treated.points else None
    return Uplift(
        starts,
        ends,
        treated,
        control_group,
        spend_difference,
        rate_difference,
        per_point,
        _verdict(treated, control_group, spend_difference),
    )


def _mean(values: numpy.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0


def _verdict(treated: Group, control: Group, spend: Difference) -> str:
    if min(treated.members, control.members) < MIN_SAMPLE:
        return INCONCLUSIVE
    if spend.low > 0:
        return POSITIVE
    if spend.high < 0:
        return NEGATIVE
    return NO_EFFECT
