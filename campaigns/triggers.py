"""Triggered and one-off grant campaigns (docs/campaigns.md, "Triggers"): one reward per occurrence.

- **Event triggers** (`member.enrolled`, `first_purchase`, `tier.upgraded`, `segment.entered`) are an
  outbox subscriber: each domain event is an occurrence (its id is the key), so a delivery seen
  twice grants once.
- **Date triggers** (`birthday`, `anniversary`, `dormant`) run nightly, set-based per member-id
  chunk: the key is the year for birthdays and anniversaries (a missed year never stacks) and the
  dormancy spell — the day of the last purchase — for `dormant` (a member who buys and goes dormant
  again qualifies again).
- **Grant campaigns** give their reward once to the audience at `starts_at`: the hourly grant job
  (key `grant`), which then ends the campaign.

Every path ends in campaigns.grants.grant_rewards, with the members locked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import CharField, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat, ExtractDay, ExtractMonth, TruncDate
from django.utils import timezone

from loyalty import job_summaries
from loyalty.extensions import ChunkResult, OutboxEvent
from loyalty.models import ProgramSettings
from loyalty.services.bulk import lock_members
from members.models import Member

from .earning import in_window
from .grants import Granted, grant_rewards, in_audience
from .models import Campaign, CampaignGrant
from .selectors import running_of
from .services.campaigns import end_finished_grants
from .terms import Trigger

# Domain events that are trigger occurrences, by trigger type.
EVENT_TRIGGERS = {
    "member.enrolled": "member.enrolled",
    "first_purchase": "member.first_purchase",
    "tier.upgraded": "tier.upgraded",
    "segment.entered": "segment.entered",
}
DATE_TRIGGERS = ("birthday", "anniversary", "dormant")
TRIGGERING_TYPES = frozenset(EVENT_TRIGGERS.values())
GRANT_OCCURRENCE = "grant"


def live(kind: str) -> list[Campaign]:
    return list(
        Campaign.objects.filter(status=Campaign.Status.PUBLISHED, kind=kind, current_version__isnull=False)
        .select_related("current_version")
        .order_by("pk")  # budgets are claimed campaign after campaign: in id order, as a batch locks them
    )


# --- event triggers ----------------------------------------------------------------------------------


def _trigger(campaign: Campaign) -> Trigger:
    trigger = running_of(campaign).terms.trigger
    if trigger is None:
        raise ValueError(f"Campaign {campaign.code} is triggered without a trigger.")
    return trigger


def _occurs(campaign: Campaign, event: OutboxEvent) -> bool:
    terms = running_of(campaign).terms
    trigger = terms.trigger
    if trigger is None or EVENT_TRIGGERS.get(trigger.type) != event.type or not event.member:
        return False
    if trigger.type == "tier.upgraded" and trigger.tier and event.payload.get("to") != trigger.tier:
        return False
    if trigger.type == "segment.entered" and event.payload.get("segment") != terms.audience.segment:
        return False
    return in_window(terms, event.occurred_at, ProgramSettings.current().zone)


def deliver(events: list[OutboxEvent]) -> None:
    """The outbox subscriber: each event that is an occurrence of a running triggered campaign's
    trigger grants its reward to the member, if the member is in its audience now."""
    campaigns = [c for c in live(Campaign.Kind.TRIGGERED) if _trigger(c).type in EVENT_TRIGGERS]
    wanted: defaultdict[int, list[OutboxEvent]] = defaultdict(list)
    for campaign in campaigns:
        wanted[campaign.pk] = [event for event in events if _occurs(campaign, event)]
    external_ids = {event.member for found in wanted.values() for event in found}
    if not external_ids:
        return
    ids = dict(
        Member.objects.select_for_update()
        .filter(external_id__in=external_ids)
        .order_by("pk")
        .values_list("external_id", "pk")
    )
    now = timezone.now()
    for campaign in campaigns:
        candidates = [(ids[e.member], f"event:{e.id}") for e in wanted[campaign.pk] if e.member in ids]
        taken = set(
            in_audience(Member.objects.filter(pk__in=[m for m, _ in candidates]), campaign, at=now).values_list(
                "pk", flat=True
            )
        )
        grant_rewards(campaign, [c for c in candidates if c[0] in taken], at=now)


# --- date triggers -----------------------------------------------------------------------------------------


def date_candidates(campaign: Campaign, members: QuerySet[Member], as_of: datetime) -> QuerySet[Member]:
    """The members of `members` the campaign's date trigger takes as of then, annotated with their
    occurrence (given or not: the grant's unique constraint refuses a repeat, index probe by index
    probe; `not_given` leaves them out for a count)."""
    trigger = _trigger(campaign)
    zone = ProgramSettings.current().zone
    today = as_of.astimezone(zone).date()
    chosen = in_audience(members, campaign, at=as_of)
    if trigger.type == "birthday":
        chosen = chosen.filter(birthday__month=today.month)
        if trigger.on == "day":
            chosen = chosen.filter(birthday__day=today.day)
        chosen = chosen.annotate(occurrence=Value(f"birthday:{today.year}", output_field=CharField()))
    elif trigger.type == "anniversary":
        joined = chosen.annotate(
            joined_month=ExtractMonth("joined_at", tzinfo=zone), joined_day=ExtractDay("joined_at", tzinfo=zone)
        )
        chosen = joined.filter(
            joined_month=today.month, joined_day=today.day, joined_at__lt=as_of - timedelta(days=300)
        ).annotate(occurrence=Value(f"anniversary:{today.year}", output_field=CharField()))
    else:
        chosen = chosen.filter(last_purchase_at__lte=as_of - timedelta(days=trigger.days or 0)).annotate(
            occurrence=Concat(
                Value("dormant:"),
                Cast(TruncDate("last_purchase_at", tzinfo=zone), CharField()),
                output_field=CharField(),
            )
        )
    return chosen


def not_given(campaign: Campaign, candidates: QuerySet[Member]) -> QuerySet[Member]:
    """The candidates not given their occurrence yet, for a dry run's count. The chunks leave this
    to the unique constraint: as a job inserts grants, the statistics of the grants go stale and
    PostgreSQL matched every member against every grant of the campaign (minutes a chunk)."""
    given = CampaignGrant.objects.filter(
        campaign=campaign, member=OuterRef("pk"), occurrence=OuterRef("occurrence")
    ).exclude(occurrence="")
    return candidates.exclude(Exists(given))


def _date_campaigns(as_of: datetime) -> list[Campaign]:
    zone = ProgramSettings.current().zone
    return [
        c
        for c in live(Campaign.Kind.TRIGGERED)
        if _trigger(c).type in DATE_TRIGGERS and in_window(running_of(c).terms, as_of, zone)
    ]


def date_triggers_chunk(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """The nightly date triggers for one chunk of members (the job machinery's transaction)."""
    return _granted_in_chunk(_date_campaigns(as_of), first_id, last_id, as_of, date_candidates)


def _granted_in_chunk(campaigns, first_id: int, last_id: int, as_of: datetime, candidates_of) -> ChunkResult:
    if not campaigns:
        return ChunkResult(0, 0)
    with connection.cursor() as cursor:
        lock_members(cursor, first_id, last_id)
    members: set[int] = set()
    entries = 0
    chunk = Member.objects.filter(pk__range=(first_id, last_id))
    for campaign in campaigns:
        found = list(candidates_of(campaign, chunk, as_of).order_by("pk").values_list("pk", "occurrence"))
        outcome: Granted = grant_rewards(campaign, found, at=as_of)
        members.update(outcome.members)
        entries += outcome.entries
    return ChunkResult(members_changed=len(members), entries_written=entries)


def _preview(campaigns: list[Campaign], candidates_of, as_of: datetime) -> list[dict]:
    """A dry run's lines: how many members each campaign would reward as of then."""
    return [
        job_summaries.line(
            "campaign_occurrences",
            campaign=campaign.code,
            members=not_given(campaign, candidates_of(campaign, Member.objects.all(), as_of)).count(),
        )
        for campaign in campaigns
    ]


def preview_date_triggers(as_of: datetime) -> list[dict]:
    return _preview(_date_campaigns(as_of), date_candidates, as_of)


# --- one-off grants -----------------------------------------------------------------------------------------


def grant_candidates(campaign: Campaign, members: QuerySet[Member], as_of: datetime) -> QuerySet[Member]:
    return in_audience(members, campaign, at=as_of).annotate(
        occurrence=Value(GRANT_OCCURRENCE, output_field=CharField())
    )


def due_grants(as_of: datetime) -> list[Campaign]:
    """Published grant campaigns whose moment (starts_at) has come and whose window has not closed."""
    due = []
    for campaign in live(Campaign.Kind.GRANT):
        terms = running_of(campaign).terms
        if (terms.starts_at is None or terms.starts_at <= as_of) and (terms.ends_at is None or as_of < terms.ends_at):
            due.append(campaign)
    return due


def grants_chunk(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    return _granted_in_chunk(due_grants(as_of), first_id, last_id, as_of, grant_candidates)


def preview_grants(as_of: datetime) -> list[dict]:
    return _preview(due_grants(as_of), grant_candidates, as_of)


def finish_grants(*, run) -> None:
    """A grant run that went through every member has made its campaigns' one-off grants: they end."""
    end_finished_grants(codes=[c.code for c in due_grants(run.as_of)])
