"""Multiplier and bonus campaigns as the engine's earning contributor (loyalty.extensions): every
event path — one at a time, batched, one by one — plans them with the same arithmetic
(campaigns.earning), claims their budgets in its transaction (`settle`) and hands the writer its
grants (`grant_rows`). A return that reverses a campaign's points gives them back to its budget (`record`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import F
from django.utils import timezone

from loyalty import extensions, planner, reason_codes
from loyalty.config import last_config

from . import budgets
from . import terms as campaign_terms
from .earning import (
    CAMPAIGN_WIDE,
    SOURCE,
    Allowance,
    Belonging,
    CounterKey,
    Pins,
    RunningCampaign,
    Setting,
    campaign_lines,
    counters_of,
    counts_points,
    held_out,
    in_audience,
    in_global_control,
    in_window,
    matches_event,
    period_start,
    stacked,
)
from .models import Campaign, CampaignGrant, CampaignVersion, MemberTag, SegmentMember
from .selectors import running_of

# --- the running campaigns, cached with the configuration ---------------------------------------------


@dataclass(frozen=True)
class Running:
    campaigns: tuple[RunningCampaign, ...]
    pins: dict[int, Pins]  # by campaign id
    version: int | None
    shared_budgets: bool = False  # a published, paused or ended campaign has a campaign-wide limit


_running: Running | None = None


def running_campaigns() -> Running:
    """The published multiplier and bonus campaigns' versions in force. Cached by the configuration
    version, which every change to a campaign or its versions renews (campaigns migration 0013)."""
    global _running
    version = last_config().version
    cached = _running
    if cached is not None and cached.version == version:
        return cached
    campaigns, pins = [], {}
    rows = Campaign.objects.filter(
        status=Campaign.Status.PUBLISHED, kind__in=campaign_terms.EARNING_KINDS, current_version__isnull=False
    ).select_related("current_version")
    for row in rows.order_by("code"):
        campaigns.append(running_of(row))
        pins[row.pk] = Pins(row.current.segment_version_id, row.current.exclude_segment_version_id)
    live = Campaign.objects.exclude(status=Campaign.Status.DRAFT).filter(current_version__isnull=False)
    shared = any(
        not name.startswith("per_member")
        for kind, terms in live.values_list("kind", "current_version__terms")
        for name in campaign_terms.parse_terms(kind, terms).budget.limits()
    )
    _running = Running(tuple(campaigns), pins, version, shared)
    return _running


# --- the contributor ----------------------------------------------------------------------------------------


@dataclass
class Context:
    """What `prepare` read for a batch (or one event)."""

    campaigns: tuple[RunningCampaign, ...]
    pins: dict[int, Pins]
    setting: Setting
    belonging: dict[Any, Belonging]
    exhausted: frozenset[CounterKey]
    by_code: dict[str, RunningCampaign] = field(default_factory=dict)
    allowance: Allowance | None = None
    claimed: dict[CounterKey, int] = field(default_factory=dict)  # the last claim that fit
    control: tuple[str, int] = ("", 0)  # the program's global control group: (salt, percent)


def prepare(member_keys: Sequence[Any], facts: Sequence[planner.EventFacts]) -> Context | None:
    running = running_campaigns()
    settings = last_config().settings
    zone = settings.zone
    event_types = {f.event_type for f in facts}
    relevant = tuple(
        c
        for c in running.campaigns
        if event_types & set(c.terms.event_types) and any(in_window(c.terms, f.occurred_at, zone) for f in facts)
    )
    if not relevant:
        return None
    return Context(
        campaigns=relevant,
        pins=running.pins,
        setting=Setting(zone, settings.max_total_multiplier),
        belonging=_belonging(member_keys, relevant, running.pins),
        exhausted=budgets.still_exhausted(running.version),
        by_code={c.code: c for c in relevant},
        control=(settings.control_salt, settings.global_control_percent),
    )


def _belonging(member_keys: Sequence[Any], campaigns: Sequence[RunningCampaign], pins: dict[int, Pins]):
    """The members' tags and pinned segment versions the campaigns' audiences name: one query each,
    only when an audience names any."""
    tags = {code for c in campaigns for code in (*c.terms.audience.tags, *c.terms.audience.exclude_tags)}
    versions = {
        version
        for c in campaigns
        for version in (pins[c.id].segment_version, pins[c.id].exclude_segment_version)
        if version is not None
    }
    member_tags: defaultdict[Any, set[str]] = defaultdict(set)
    member_versions: defaultdict[Any, set[int]] = defaultdict(set)
    if tags:
        now = timezone.now()
        carried = MemberTag.objects.filter(member_id__in=member_keys, tag__code__in=tags).exclude(expires_at__lte=now)
        for member_id, code in carried.values_list("member_id", "tag__code"):
            member_tags[member_id].add(code)
    if versions:
        rows = SegmentMember.objects.filter(member_id__in=member_keys, version_id__in=versions)
        for member_id, version_id in rows.values_list("member_id", "version_id"):
            member_versions[member_id].add(version_id)
    return {
        key: Belonging(frozenset(member_tags[key]), frozenset(member_versions[key]))
        for key in set(member_tags) | set(member_versions)
    }


def contribute(
    facts: planner.EventFacts,
    member: planner.MemberState,
    lines: tuple[planner.EarningLine, ...],
    context: Context | None,
    member_key: Any,
) -> list[planner.EarningLine]:
    if context is None or in_global_control(context.control, member_key):
        return []
    belonging = context.belonging.get(member_key, Belonging())
    matching = [
        c
        for c in context.campaigns
        if matches_event(c.terms, facts, member)
        and in_window(c.terms, facts.occurred_at, context.setting.zone)
        and in_audience(c.terms, member.tier.code, belonging, context.pins[c.id])
    ]
    if not matching:
        return []
    return campaign_lines(
        facts,
        member,
        lines,
        stacked(matching),
        member_key=member_key,
        setting=context.setting,
        allowance=context.allowance,
        exhausted=context.exhausted,
    )


def _day(context: Context, facts: planner.EventFacts) -> date:
    return facts.occurred_at.astimezone(context.setting.zone).date()


def _shares(context: Context, planned: Sequence[planner.Planned]):
    """Each campaign share of the planned events: (planned, share, campaign)."""
    for item in planned:
        for share in item.plan.grants:
            if share.key.source == SOURCE and share.key.code in context.by_code:
                yield item, share, context.by_code[share.key.code]


def settle(context: Context | None, planned: Sequence[planner.Planned]) -> bool:
    """Claim the budgets the planned grants use. When one ran out part-way, give the claim back and
    plan again with what each counter had left (the counters stay locked until the commit)."""
    if context is None:
        return False
    if context.claimed:  # settled before, and another contributor asked for the events to be planned again
        budgets.give_back(context.claimed)
        context.claimed = {}
    wants: dict[CounterKey, list[int]] = {}
    for item, share, campaign in _shares(context, planned):
        if not (share.points or share.growth):
            continue
        for name, (key, limit) in counters_of(campaign, item.member_key, _day(context, item.facts)).items():
            want = wants.setdefault(key, [0, limit])
            want[0] += share.points if counts_points(name) else 1
    claimed = budgets.claim({key: (want, limit) for key, (want, limit) in wants.items()})
    if any(c.clipped for c in claimed.values()):
        budgets.give_back({key: c.after - c.before for key, c in claimed.items()})
        allowance = context.allowance or Allowance()
        allowance.left.update({key: max(c.limit - c.before, 0) for key, c in claimed.items()})
        context.allowance = allowance
        return True
    budgets.note_claimed(claimed, {c.id: c for c in context.campaigns})
    context.claimed = {key: c.after - c.before for key, c in claimed.items()}
    return False


def grant_rows(context: Context | None, planned: Sequence[planner.Planned]) -> planner.EventRows | None:
    """The grants (ghosts included) of the planned events, for the writer to insert with them."""
    if context is None:
        return None
    return planner.EventRows(
        model=CampaignGrant,
        fields=GRANT_FIELDS,
        rows=[
            (
                item.event,
                campaign.id,
                campaign.version_id,
                item.member_key,
                held_out(campaign.salt, item.member_key, campaign.holdout_percent),
                share.desired_points,
                share.desired_growth,
                share.points,
                share.growth,
                item.facts.occurred_at,
                "",
                0,
            )
            for item, share, campaign in _shares(context, planned)
        ],
    )


GRANT_FIELDS = (
    "campaign_id",
    "version_id",
    "member_id",
    "held_out",
    "desired_points",
    "desired_growth",
    "points",
    "growth",
    "granted_at",
    "occurrence",
    "points_released",
)


def record(context: Context | None, planned: Sequence[planner.Planned]) -> None:
    """The budget a return gave back."""
    _release_reversed(planned)


def _release_reversed(planned: Sequence[planner.Planned]) -> None:
    """Campaign points a return reversed go back to the budgets that counted them — the limits of the
    version that granted them, in the periods of the grant — and are noted on their grants."""
    zone = last_config().settings.zone
    # (campaign, version number, member, the grant's event or lot, day) -> points
    released: defaultdict[tuple[int, int, Any, Any, date], int] = defaultdict(int)
    lot_grant: dict[tuple[int, Any], int] = {}  # a triggered or one-off grant's lot names its grant
    for item in planned:
        for entry in item.plan.entries:
            if not isinstance(entry, planner.Debit) or entry.ledger != planner.POINTS or entry.kind != planner.REVERSE:
                continue
            for lot, amount in entry.takes:
                if getattr(lot, "reason_code", None) != reason_codes.CAMPAIGN:
                    continue
                params, source = lot.reason_params, lot.event_id or lot.pk
                day = lot.created_at.astimezone(zone).date()
                released[(params["campaign"], params["version"], item.member_key, source, day)] += amount
                if params.get("grant"):
                    lot_grant[(params["campaign"], source)] = params["grant"]
    if not released:
        return
    versions = {
        (v.campaign_id, v.number): campaign_terms.parse_terms(v.campaign.kind, v.terms)
        for v in CampaignVersion.objects.filter(campaign_id__in={key[0] for key in released}).select_related("campaign")
    }
    give: defaultdict[CounterKey, int] = defaultdict(int)
    for (campaign_id, number, member_id, source, day), amount in released.items():
        for name, limit in versions[(campaign_id, number)].budget.limits().items():
            if counts_points(name):
                scope = member_id if name.startswith("per_member") else CAMPAIGN_WIDE
                give[(campaign_id, name, scope, period_start(day, limit.per))] += amount
        grant = lot_grant.get((campaign_id, source))
        grants = (
            CampaignGrant.objects.filter(pk=grant)
            if grant
            else CampaignGrant.objects.filter(campaign_id=campaign_id, event_id=source)
        )
        grants.update(points_released=F("points_released") + amount)
    budgets.give_back(give)


def claims_shared_counters() -> bool:
    return any(name in ("points", "grants") for c in running_campaigns().campaigns for name in c.terms.budget.limits())


def register() -> None:
    extensions.earning_contributors.register(
        "campaigns",
        planner.EarningContributor(
            prepare=prepare,
            contribute=contribute,
            settle=settle,
            rows=grant_rows,
            record=record,
            claims_shared_counters=claims_shared_counters,
        ),
    )
