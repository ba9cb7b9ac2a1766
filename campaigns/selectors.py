"""Reads of the campaigns app: what a definition is evaluated against, members' facts for the
per-member check, members by their stored RFM, tags and segments as the screens and the API read them."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from loyalty.analytics import rfm
from loyalty.analytics.selectors.rfm import stored_rfm_sql
from loyalty.analytics.selectors.sql import medians
from loyalty.config import current_config
from loyalty.models import Event, EventType, JobRun, MemberRFM, PointsEntry
from loyalty.names import display_name
from members.models import Member

from . import terms as campaign_terms
from .definitions import Context, Cut, MemberFacts, Node, TierRef, condition
from .earning import RunningCampaign, held_out, in_global_control
from .models import Campaign, CampaignGrant, CampaignVersion, MemberTag, Segment, SegmentMember, SegmentVersion


@dataclass(frozen=True)
class Scope:
    """Which members a refresh looks at: an id range (a job's chunk) or some members by id."""

    first_id: int | None = None
    last_id: int | None = None
    ids: tuple[int, ...] | None = None

    def on(self, field_name: str) -> Q:
        """The scope as a condition on a member id field ("pk" of members, "member_id" of rows);
        Scope() is every member."""
        if self.ids is not None:
            return Q(**{f"{field_name}__in": self.ids})
        if self.first_id is None:
            return Q()
        return Q(**{f"{field_name}__gte": self.first_id, f"{field_name}__lte": self.last_id})


def selected(node: Node, context: Context, scope: Scope) -> QuerySet[Member]:
    """The members of `scope` the definition selects (closed members never)."""
    return Member.objects.filter(scope.on("pk")).exclude(status=Member.Status.CLOSED).filter(condition(node, context))


def members_in_quadrant(*, quadrant: str, cut_frequency: Decimal, cut_monetary: Decimal) -> QuerySet[Member]:
    """Members whose stored RFM falls in `quadrant` (rfm.QUADRANTS) of the cut: high is strictly above."""
    high_spend = quadrant in (rfm.HIGH_SPEND_HIGH_FREQUENCY, rfm.HIGH_SPEND_LOW_FREQUENCY)
    high_frequency = quadrant in (rfm.HIGH_SPEND_HIGH_FREQUENCY, rfm.LOW_SPEND_HIGH_FREQUENCY)
    spend = {"rfm__monetary__gt" if high_spend else "rfm__monetary__lte": cut_monetary}
    frequency = {"rfm__frequency__gt" if high_frequency else "rfm__frequency__lte": cut_frequency}
    return Member.objects.filter(**spend, **frequency)


def stored_rfm_cut() -> Cut | None:
    """The medians of the stored RFM (members not closed); None when nothing is stored."""
    with connection.cursor() as cursor:
        cursor.execute(medians(stored_rfm_sql(), ["frequency", "monetary"]), [])
        frequency, monetary = cursor.fetchone()
    if frequency is None:
        return None
    return Cut(Decimal(str(frequency)), Decimal(str(monetary)))


@functools.lru_cache(maxsize=4)
def _cut_of_store_run(run_id: int, finished_at: datetime | None) -> Cut | None:
    return stored_rfm_cut()


def current_rfm_cut() -> Cut | None:
    """stored_rfm_cut(), worked out once per process for each finished store_member_rfm run: the
    stored RFM changes only when that job writes it, and the medians read every stored row (a third
    of a second at a million members, which the per-minute refresh would otherwise pay each time).
    With no finished run (rows stored some other way) it is worked out each time."""
    latest = (
        JobRun.objects.filter(job="store_member_rfm", status=JobRun.Status.DONE, dry_run=False)
        .order_by("-pk")
        .values_list("pk", "finished_at")
        .first()
    )
    return _cut_of_store_run(*latest) if latest else stored_rfm_cut()


def evaluation_context(as_of: datetime, *, cut: Cut | None) -> Context:
    """The moment, the program's zone, the ladder and the RFM cut (current_rfm_cut())."""
    config = current_config()
    return Context(
        as_of=as_of,
        zone=config.settings.zone,
        tiers={tier.code: TierRef(tier.pk, tier.rank) for tier in config.ladder},
        cut=cut,
    )


def active_tags_of(member_ids: Iterable[int], as_of: datetime) -> dict[int, list[MemberTag]]:
    """Each member's tags that are active and not expired at `as_of`, by member id."""
    found: dict[int, list[MemberTag]] = defaultdict(list)
    rows = (
        MemberTag.objects.filter(member_id__in=list(member_ids), tag__active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=as_of))
        .select_related("tag")
        .order_by("tag__group", "tag__code")
    )
    for row in rows:
        found[row.member_id].append(row)
    return found


def member_facts(member_ids: Iterable[int], context: Context) -> list[MemberFacts]:
    """The members as the per-member check sees them (the set-based path's counterpart)."""
    ids = list(member_ids)
    members = Member.objects.filter(pk__in=ids).select_related("tier").order_by("pk")
    tags = active_tags_of(ids, context.as_of)
    stored = {row.member_id: row for row in MemberRFM.objects.filter(member_id__in=ids)}
    purchases: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    returns: dict[int, list[datetime]] = defaultdict(list)
    events = Event.objects.filter(member_id__in=ids, event_type_id__in=[EventType.PURCHASE, EventType.RETURN])
    for member_id, event_type, occurred_at, amount in events.values_list(
        "member_id", "event_type_id", "occurred_at", "amount"
    ):
        if event_type == EventType.PURCHASE:
            purchases[member_id].append((occurred_at, amount or Decimal(0)))
        else:
            returns[member_id].append(occurred_at)
    return [
        MemberFacts(
            id=member.pk,
            status=member.status,
            tier_code=member.tier.code,
            joined_at=member.joined_at,
            birthday=member.birthday,
            last_purchase_at=member.last_purchase_at,
            last_activity_at=member.last_activity_at,
            points_available=member.points_available,
            growth_value=member.growth_value,
            has_referrer=member.referrer_id is not None,
            tags=frozenset(row.tag.code for row in tags.get(member.pk, [])),
            rfm=(
                (stored[member.pk].recency_days, stored[member.pk].frequency, stored[member.pk].monetary)
                if member.pk in stored
                else None
            ),
            purchases=tuple(purchases.get(member.pk, [])),
            returns=tuple(returns.get(member.pk, [])),
        )
        for member in members
    ]


def segment_codes_of(member: Member) -> list[str]:
    """The active segments the member is in now (their current versions)."""
    return list(
        Segment.objects.filter(
            active=True,
            current_version__in=SegmentMember.objects.filter(member=member).values("version_id"),
        )
        .order_by("code")
        .values_list("code", flat=True)
    )


def pinned_by_campaigns() -> set[int]:
    """The segment versions the audiences of live campaigns (published or paused) are pinned to."""
    live = CampaignVersion.objects.filter(
        campaign__status__in=[Campaign.Status.PUBLISHED, Campaign.Status.PAUSED], campaign__current_version=F("pk")
    )
    return {
        version_id
        for pair in live.values_list("segment_version_id", "exclude_segment_version_id")
        for version_id in pair
        if version_id is not None
    }


def version_in_computation(segment: Segment) -> SegmentVersion | None:
    """The segment's newest version if it is still being computed (campaigns.services.compute_version)."""
    newest = segment.versions.order_by("-number").first()
    return newest if newest is not None and newest.computing else None


def active_segments() -> QuerySet[Segment]:
    """The active segments that have a computed version, by code."""
    return (
        Segment.objects.filter(active=True, current_version__isnull=False)
        .select_related("current_version")
        .order_by("code")
    )


@dataclass(frozen=True)
class Preview:
    """What a definition selects now, and against a segment's current members who would enter and
    leave if it were saved; with the time the queries took."""

    count: int
    sample: list[Member]
    entering: int
    entering_sample: list[Member]
    leaving: int
    leaving_sample: list[Member]
    milliseconds: int


def preview_definition(*, node: Node, segment: Segment | None, as_of: datetime, sample: int = 20) -> Preview:
    started = time.perf_counter()
    context = evaluation_context(as_of, cut=current_rfm_cut())
    chosen = selected(node, context, Scope())
    current = (
        SegmentMember.objects.filter(version_id=segment.current_version_id).values("member_id")
        if segment is not None and segment.current_version_id is not None
        else SegmentMember.objects.none().values("member_id")
    )
    entering = chosen.exclude(pk__in=current)
    leaving = Member.objects.filter(pk__in=current).exclude(pk__in=chosen.values("pk"))
    count, entering_count, leaving_count = chosen.count(), entering.count(), leaving.count()
    return Preview(
        count=count,
        sample=list(chosen.select_related("tier").order_by("-id")[:sample]),
        entering=entering_count,
        entering_sample=list(entering.select_related("tier").order_by("-id")[:sample]),
        leaving=leaving_count,
        leaving_sample=list(leaving.select_related("tier").order_by("-id")[:sample]),
        milliseconds=round((time.perf_counter() - started) * 1000),
    )


def member_panel(member: Member) -> dict:
    """The member page's tags and segments (loyalty.extensions.member_panels)."""
    segments = Segment.objects.filter(
        active=True, current_version__in=SegmentMember.objects.filter(member=member).values("version_id")
    ).order_by("code")
    return {"tags": active_tags_of([member.pk], timezone.now()).get(member.pk, []), "segments": list(segments)}


def running_of(row: Campaign) -> RunningCampaign:
    """A campaign with its version in force, as the arithmetic (campaigns.earning) reads it."""
    current = row.current
    return RunningCampaign(
        id=row.pk,
        code=row.code,
        name=row.name,
        version_id=current.pk,
        version=current.number,
        terms=campaign_terms.parse_terms(row.kind, current.terms),
        salt=row.salt,
        holdout_percent=row.holdout_percent,
    )


# --- campaigns for storefronts ---------------------------------------------------------------------------


def live_campaigns(now: datetime) -> list[tuple[Campaign, RunningCampaign, str]]:
    """Published campaigns scheduled or running at `now`, with their terms and phase, by start."""
    rows = Campaign.objects.filter(status=Campaign.Status.PUBLISHED, current_version__isnull=False).select_related(
        "current_version"
    )
    found = []
    for row in rows.order_by("code"):
        phase = row.phase_at(now)
        if phase in (Campaign.Phase.SCHEDULED, Campaign.Phase.RUNNING):
            found.append((row, running_of(row), phase))
    return sorted(found, key=lambda item: (item[1].terms.starts_at is not None, item[1].terms.starts_at, item[0].code))


def public_campaigns(now: datetime) -> list[tuple[Campaign, RunningCampaign, str]]:
    """What `GET campaigns/` lists: the live campaigns marked public."""
    return [item for item in live_campaigns(now) if item[0].public]


def campaigns_for_member(member: Member, now: datetime) -> list[tuple[Campaign, RunningCampaign, str]]:
    """The running campaigns whose audience takes the member now; a member a campaign holds out does
    not see it (and so cannot tell it is held out)."""
    from .grants import in_audience  # grants books rewards through the services; selectors only read it

    settings = current_config().settings
    if in_global_control((settings.control_salt, settings.global_control_percent), member.pk):
        return []
    found = []
    for row, running, phase in live_campaigns(now):
        if phase != Campaign.Phase.RUNNING or held_out(running.salt, member.pk, running.holdout_percent):
            continue
        if in_audience(Member.objects.filter(pk=member.pk), row, at=now).exists():
            found.append((row, running, phase))
    return found


# --- the points economics report ---------------------------------------------------------------------------


def campaign_costs(since: datetime, zone) -> list[tuple]:
    """(month, campaign code, name, grants, points, coupons, coupons' face value) per month and
    campaign: grants that gave anything, their points less what returns released."""
    rows = (
        CampaignGrant.objects.filter(granted_at__gte=since)
        .exclude(points=0, growth=0, coupon__isnull=True)
        .annotate(month=TruncMonth("granted_at", tzinfo=zone))
        .values("month", "campaign__code", "campaign__name")
        .annotate(
            grants=Count("pk"),
            points=Sum(F("points") - F("points_released")),
            coupons=Count("coupon"),
            face=Coalesce(
                Sum("coupon__value", filter=Q(coupon__kind="amount_off")),
                Value(0),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
        )
        .order_by("month", "campaign__code")
    )
    return [
        (
            row["month"].date() if isinstance(row["month"], datetime) else row["month"],
            row["campaign__code"],
            row["campaign__name"],
            row["grants"],
            row["points"] or 0,
            row["coupons"],
            Decimal(row["face"] or 0),
        )
        for row in rows
    ]


def campaign_liability() -> list[tuple]:
    """(campaign code, name, points still held) of the points each campaign's lots still hold."""
    held = (
        PointsEntry.objects.filter(reason_code="campaign", remaining__gt=0)
        .values("reason_params__code", "reason_params__name")
        .annotate(points=Sum("remaining"))
        .order_by("reason_params__code")
    )
    return [(row["reason_params__code"], row["reason_params__name"], row["points"]) for row in held]


EXPLAINED_EVENTS = 10


def points_explained(member: Member) -> list[dict]:
    """The member page's "why this many points": the latest events, each split into what the rules
    and the tier gave and what each campaign added (and wanted, when a budget or holdout cut it)."""
    latest = Event.objects.filter(member=member).select_related("event_type").order_by("-occurred_at", "-pk")
    events = list(latest[:EXPLAINED_EVENTS])
    names = dict(
        Campaign.objects.filter(
            code__in={share["code"] for event in events for share in event.contributions or ()}
        ).values_list("code", "name")
    )
    rows = []
    for event in events:
        shares = [
            {**share, "name": display_name(names.get(share["code"], share["code"]))}
            for share in event.contributions or ()
            if share["source"] == "campaign"
        ]
        rows.append(
            {"event": event, "base": event.points_delta - sum(s["points"] for s in shares), "campaigns": shares}
        )
    return rows
