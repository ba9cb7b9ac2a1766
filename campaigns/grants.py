"""Rewards given by grant and triggered campaigns, set-based: points, growth and a coupon to many
members at once, each (campaign, member, occurrence) once.

The caller (the trigger subscriber, the nightly date triggers, the grant job) holds the members'
locks and names the candidates with their occurrence keys. Then, in its transaction:

1. a grant row per candidate is inserted `ON CONFLICT DO NOTHING` on the unique (campaign, member,
   occurrence): a delivery seen before, a year already given, a grant already made gives nothing;
2. held-out members keep their row as a ghost (what they would have received, nothing granted);
3. the others' budgets are claimed by the conditional UPDATE (campaigns.budgets); when one runs out
   the grants are allocated in member-id order to what is left (points clipped, a grant refused);
4. the granted rewards are booked (loyalty.services.bulk_credit, rewards' coupons), each lot naming
   its grant so a return that takes it gives its points back to the budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from loyalty.models import ProgramSettings
from loyalty.reasons import stored_text
from loyalty.services.bulk_credit import BulkCredit, credit_many
from members.db import fetch_all
from members.models import Member
from rewards.models import CouponTemplate
from rewards.services.coupons import CouponOwner, issue_coupons

from . import budgets
from .earning import Allowance, RunningCampaign, counters_of, counts_points, held_out, in_global_control
from .models import Campaign, CampaignGrant, MemberTag, SegmentMember
from .selectors import running_of

# How often the allocation is redone when a budget ran out part-way (see loyalty's SETTLE_ATTEMPTS).
ALLOCATION_ATTEMPTS = 4


def in_audience(members: QuerySet[Member], campaign: Campaign, *, at: datetime) -> QuerySet[Member]:
    """The active members of `members` the campaign's audience takes, as one query: its tiers, tags
    (carried at `at`), pinned segment versions and exclusions."""
    terms = running_of(campaign).terms
    audience, version = terms.audience, campaign.current
    chosen = members.filter(status=Member.Status.ACTIVE)
    if audience.tiers:
        chosen = chosen.filter(tier__code__in=audience.tiers)
    carried = MemberTag.objects.filter(member=OuterRef("pk")).exclude(expires_at__lte=at)
    for tag in audience.tags:
        chosen = chosen.filter(Exists(carried.filter(tag__code=tag)))
    if audience.exclude_tags:
        chosen = chosen.exclude(Exists(carried.filter(tag__code__in=audience.exclude_tags)))
    in_segment = SegmentMember.objects.filter(member=OuterRef("pk"))
    if audience.segment:
        chosen = chosen.filter(Exists(in_segment.filter(version_id=version.segment_version_id)))
    if audience.exclude_segment:
        chosen = chosen.exclude(Exists(in_segment.filter(version_id=version.exclude_segment_version_id)))
    return chosen


@dataclass(frozen=True)
class Granted:
    granted: int  # members given something
    held_out: int  # ghosts
    refused: int  # the budget had nothing left for them
    repeated: int  # already given for this occurrence
    entries: int  # rows written: grants, lots, coupons
    members: tuple[int, ...] = ()  # the members given something


def grant_rewards(campaign: Campaign, candidates: Sequence[tuple[int, str]], *, at: datetime) -> Granted:
    """The campaign's reward to each (member id, occurrence) not given before; the caller holds the
    members' locks."""
    running = running_of(campaign)
    reward = running.terms.reward
    settings = ProgramSettings.current()
    control = (settings.control_salt, settings.global_control_percent)
    candidates = [c for c in candidates if not in_global_control(control, c[0])]
    if reward is None or not candidates:
        return Granted(0, 0, 0, len(candidates), 0)
    fresh = _insert_grants(running, sorted(candidates), reward.points, reward.growth, at)
    given = [
        (grant_id, member_id)
        for grant_id, member_id in fresh
        if not held_out(running.salt, member_id, running.holdout_percent)
    ]
    coupon = bool(reward.coupon_template)
    amounts = _allocate(running, given, reward.points, reward.growth, at, coupon=coupon)
    cut = [
        CampaignGrant(pk=grant_id, points=amount[0], growth=amount[1])
        for grant_id, _ in given
        if (amount := amounts[grant_id] or (0, 0)) != (reward.points, reward.growth)
    ]
    CampaignGrant.objects.bulk_update(cut, ["points", "growth"])  # a budget ran out: rare
    granted = [(grant_id, member_id, *kept) for grant_id, member_id in given if (kept := amounts[grant_id]) is not None]
    entries = len(fresh) + _book(running, granted, reward, at)
    return Granted(
        granted=len(granted),
        held_out=len(fresh) - len(given),
        refused=len(given) - len(granted),
        repeated=len(candidates) - len(fresh),
        entries=entries,
        members=tuple(member_id for _, member_id, _, _ in granted),
    )


def _insert_grants(
    running: RunningCampaign, candidates: Sequence[tuple[int, str]], points: int, growth: int, at: datetime
) -> list[tuple[int, int]]:
    """Step 1: (grant id, member id) of the candidates' new grant rows, in member order; the rest
    were given before. A row holds the whole reward (a held-out member's nothing) until a budget
    cuts it."""
    held = [held_out(running.salt, member_id, running.holdout_percent) for member_id, _ in candidates]
    if connection.vendor == "postgresql":
        table = CampaignGrant._meta.db_table
        rows = fetch_all(
            f"""INSERT INTO {table} (campaign_id, version_id, member_id, occurrence, held_out, desired_points,
                                     desired_growth, points, growth, points_released, granted_at)
                SELECT %s, %s, m, o, h, %s, %s, CASE WHEN h THEN 0 ELSE %s END, CASE WHEN h THEN 0 ELSE %s END,
                       0, %s
                FROM unnest(%b::bigint[], %b::text[], %b::boolean[]) AS c(m, o, h)
                ON CONFLICT (campaign_id, member_id, occurrence) WHERE occurrence <> '' DO NOTHING
                RETURNING id, member_id""",
            [
                running.id,
                running.version_id,
                points,
                growth,
                points,
                growth,
                at,
                [m for m, _ in candidates],
                [o for _, o in candidates],
                held,
            ],
        )
        return sorted(rows, key=lambda row: row[1])
    given = set(
        CampaignGrant.objects.filter(
            campaign_id=running.id, member_id__in=[m for m, _ in candidates], occurrence__in={o for _, o in candidates}
        ).values_list("member_id", "occurrence")
    )
    created = CampaignGrant.objects.bulk_create(
        CampaignGrant(
            campaign_id=running.id,
            version_id=running.version_id,
            member_id=member_id,
            occurrence=occurrence,
            held_out=is_held,
            desired_points=points,
            desired_growth=growth,
            points=0 if is_held else points,
            growth=0 if is_held else growth,
            granted_at=at,
        )
        for (member_id, occurrence), is_held in zip(candidates, held, strict=True)
        if (member_id, occurrence) not in given
    )
    return [(row.pk, row.member_id) for row in created]


def _allocate(
    running: RunningCampaign, given: list[tuple[int, int]], points: int, growth: int, at: datetime, *, coupon: bool
) -> dict[int, tuple[int, int] | None]:
    """Step 3: each grant's (points, growth) within the budgets, claimed; None: refused."""
    if not running.terms.budget.limits():  # nothing to count: everyone gets the whole reward
        return dict.fromkeys((grant_id for grant_id, _ in given), (points, growth))
    day = timezone.localtime(at, ProgramSettings.current().zone).date()
    allowance: Allowance | None = None
    for _attempt in range(ALLOCATION_ATTEMPTS):
        amounts: dict[int, tuple[int, int] | None] = {}
        wants: dict = {}
        for grant_id, member_id in given:
            counters = counters_of(running, member_id, day)
            got = (growth, points) if allowance is None else allowance.take(counters, growth, points, coupon=coupon)
            amounts[grant_id] = None if got is None else (got[1], got[0])
            if got is not None:
                for name, (key, limit) in counters.items():
                    want = wants.setdefault(key, [0, limit])
                    want[0] += got[1] if counts_points(name) else 1
        claimed = budgets.claim({key: (want, limit) for key, (want, limit) in wants.items()})
        if not any(c.clipped for c in claimed.values()):
            budgets.note_claimed(claimed, {running.id: running})
            return amounts
        budgets.give_back({key: c.after - c.before for key, c in claimed.items()})
        allowance = allowance or Allowance()
        allowance.left.update({key: max(c.limit - c.before, 0) for key, c in claimed.items()})
    raise RuntimeError(f"Campaign {running.code}: the budgets did not settle.")


def _link_coupons(grant_ids: list[int], coupon_ids: list[int]) -> None:
    if connection.vendor == "postgresql":
        table = CampaignGrant._meta.db_table
        fetch_all(
            f"""UPDATE {table} SET coupon_id = u.c FROM unnest(%s::bigint[], %s::bigint[]) AS u(g, c)
                WHERE {table}.id = u.g RETURNING {table}.id""",
            [grant_ids, coupon_ids],
        )
        return
    rows = [CampaignGrant(pk=g, coupon_id=c) for g, c in zip(grant_ids, coupon_ids, strict=True)]
    CampaignGrant.objects.bulk_update(rows, ["coupon"])


def _book(running: RunningCampaign, granted: list[tuple[int, int, int, int]], reward, at: datetime) -> int:
    """Step 4: the grant rows' amounts, the ledgers and the coupons. Returns the rows written."""
    if not granted:
        return 0
    written = 0
    if reward.coupon_template:
        template = CouponTemplate.objects.get(code=reward.coupon_template)
        zone = ProgramSettings.current().zone
        coupons = issue_coupons(
            template=template,
            owners=[CouponOwner(member_id) for _, member_id, _, _ in granted],
            issued_at=at,
            zone=zone,
        )
        _link_coupons([grant_id for grant_id, _, _, _ in granted], [coupon.pk for coupon in coupons])
        written += len(coupons)
    program = ProgramSettings.current()
    text = stored_text(running.reason)  # the grant's id in the parameters is not in the text
    written += credit_many(
        [
            BulkCredit(member_id, points, growth, running.reason_for(grant_id), {"campaign": running.code}, text)
            for grant_id, member_id, points, growth in granted
            if points or growth
        ],
        at=at,
        program=program,
    )
    return written
