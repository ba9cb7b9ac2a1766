"""A campaign's lifecycle (docs/campaigns.md): draft → published (scheduled, then running within its
window) → paused → ended. A draft's terms change in place; a published campaign's edit is a new
version in force from then on, and publishing, pausing, resuming, ending and editing a published
campaign need campaigns.publish_campaign. Each change of status is a campaign.status_changed
domain event."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from loyalty.config import current_config
from loyalty.models import EventType, ProgramSettings
from members.errors import InvalidInput, LoyaltyError
from members.models import Member
from members.outbox import publish
from members.permissions import require_permission
from rewards.models import CouponTemplate

from .. import terms as campaign_terms
from ..forecast import forecast_campaign
from ..grants import in_audience
from ..models import Campaign, CampaignAssignment, CampaignVersion, Segment, Tag
from .inputs import text

PUBLISH = "campaigns.publish_campaign"


class CampaignNotChangeable(LoyaltyError):
    """An ended campaign, or a change its status does not allow."""

    code = "campaign_not_changeable"


def check_terms(kind: str, raw, *, pinning: bool = False) -> campaign_terms.Terms:
    """The terms parsed, and everything they name known: event types, tiers, tags, segments and
    coupon templates; `pinning` (terms to be published): the segments have computed members.
    InvalidInput with every problem by field otherwise."""
    try:
        parsed = campaign_terms.parse_terms(kind, raw)
    except campaign_terms.InvalidTerms as invalid:
        raise InvalidInput("The campaign's terms are not valid.", fields=invalid.problems) from None
    problems: dict[str, list[str]] = {}

    def unknown(field: str, wanted: set[str], known: set[str], what: str) -> None:
        if missing := sorted(wanted - known):
            problems.setdefault(field, []).append(f"Unknown {what}: {', '.join(missing)}.")

    unknown(
        "event_types", set(parsed.event_types), set(EventType.objects.values_list("code", flat=True)), "event types"
    )
    tiers = set(parsed.audience.tiers) | ({parsed.trigger.tier} if parsed.trigger and parsed.trigger.tier else set())
    unknown("audience.tiers", tiers, {tier.code for tier in current_config().ladder}, "tiers")
    tags = set(parsed.audience.tags) | set(parsed.audience.exclude_tags)
    unknown(
        "audience.tags",
        tags,
        set(Tag.objects.filter(code__in=tags, active=True).values_list("code", flat=True)),
        "tags",
    )
    segments = parsed.segments()
    known_segments = set(Segment.objects.filter(code__in=segments, active=True).values_list("code", flat=True))
    unknown("audience.segment", segments, known_segments, "segments")
    if pinning:
        computed = set(
            Segment.objects.filter(code__in=segments, current_version__isnull=False).values_list("code", flat=True)
        )
        if waiting := sorted(known_segments - computed):
            problems.setdefault("audience.segment", []).append(f"Not computed yet: {', '.join(waiting)}.")
    if parsed.reward and parsed.reward.coupon_template:
        template = {parsed.reward.coupon_template}
        known = set(CouponTemplate.objects.filter(code__in=template, is_active=True).values_list("code", flat=True))
        unknown("reward.coupon_template", template, known, "coupon templates")
    if problems:
        raise InvalidInput("The campaign's terms name what does not exist.", fields=problems)
    return parsed


def _holdout(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
        raise InvalidInput("holdout_percent is 0 to 50.", fields={"holdout_percent": ["A whole number, 0 to 50."]})
    return value


@transaction.atomic
def save_campaign(
    *,
    code: str,
    name: str,
    kind: str,
    terms,
    description: str = "",
    public: bool = False,
    holdout_percent: int = 0,
    actor=None,
) -> Campaign:
    """Create the draft campaign `code` or change it. A draft's terms change in place; a published
    or paused campaign's changed terms are a new version in force at once (which needs
    campaigns.publish_campaign too); its kind and holdout stay as published; an ended campaign is
    not changed. A staff actor needs campaigns.add_campaign or campaigns.change_campaign."""
    parsed = check_terms(kind, terms)
    name = text(name, "name", limit=128, required=True)
    description = text(description, "description", limit=2000)
    holdout_percent = _holdout(holdout_percent)
    campaign = Campaign.objects.select_for_update(of=("self",)).filter(code=code).first()
    if campaign is None:
        require_permission(actor, "campaigns.add_campaign", "You may not create campaigns.")
        campaign = Campaign(code=text(code, "code", limit=64, required=True), kind=kind)
    else:
        require_permission(actor, "campaigns.change_campaign", "You may not change campaigns.")
        if campaign.status == Campaign.Status.ENDED:
            raise CampaignNotChangeable(f"Campaign {code} has ended; clone it to run it again.")
        if campaign.status == Campaign.Status.AWAITING_APPROVAL:
            raise CampaignNotChangeable(f"Campaign {code} is awaiting approval; decline it to change it.")
        if campaign.kind != kind:
            raise InvalidInput(
                f"Campaign {code} is a {campaign.kind} campaign.", fields={"kind": ["Fixed once created."]}
            )
        if campaign.status != Campaign.Status.DRAFT and campaign.holdout_percent != holdout_percent:
            raise InvalidInput(
                "The holdout is fixed once a campaign is published.", fields={"holdout_percent": ["Fixed."]}
            )
    campaign.name, campaign.description, campaign.public = name, description, bool(public)
    campaign.holdout_percent = holdout_percent
    campaign.full_clean(exclude=["current_version", "cloned_from"])
    campaign.save()
    canonical = parsed.as_json()
    version = campaign.current_version
    if version is None:
        campaign.current_version = _new_version(campaign, canonical, actor)
    elif campaign.status == Campaign.Status.DRAFT:
        version.terms = canonical
        version.save(update_fields=["terms"])
    elif version.terms != canonical:
        require_permission(actor, PUBLISH, "You may not change a published campaign.")
        campaign.current_version = _new_version(campaign, canonical, actor, published=True)
        _check_within_approval_limit(campaign, actor)
        _announce(campaign)
    campaign.save(update_fields=["current_version"])
    return campaign


def _new_version(campaign: Campaign, terms: dict, actor, *, published: bool = False) -> CampaignVersion:
    last = campaign.versions.aggregate(last=Max("number"))["last"] or 0
    version = CampaignVersion(campaign=campaign, number=last + 1, terms=terms, created_by=actor)
    if published:
        _pin(version)
    version.save()
    return version


def _pin(version: CampaignVersion) -> None:
    """Pin the segments the audience names to their current versions, and mark it published."""
    parsed = campaign_terms.parse_terms(version.campaign.kind, version.terms)
    for field, code in (
        ("segment_version", parsed.audience.segment),
        ("exclude_segment_version", parsed.audience.exclude_segment),
    ):
        if code is None:
            continue
        segment = Segment.objects.filter(code=code, active=True).select_related("current_version").first()
        if segment is None or segment.current_version is None:
            raise InvalidInput(
                f"Segment {code} has no computed members yet.", fields={"audience.segment": ["Not computed yet."]}
            )
        setattr(version, field, segment.current_version)
    version.published_at = timezone.now()


def _locked(code: str) -> Campaign:
    campaign = (
        Campaign.objects.select_for_update(of=("self",)).select_related("current_version").filter(code=code).first()
    )
    if campaign is None:
        raise InvalidInput(f"No campaign {code!r}.", fields={"code": ["Unknown campaign."]})
    return campaign


def _announce(campaign: Campaign) -> None:
    publish(
        "campaign.status_changed",
        member=None,
        payload={"campaign": campaign.code, "status": campaign.status, "version": campaign.current.number},
    )


def _move(code: str, actor, *, allowed: tuple[str, ...], to: str) -> Campaign:
    require_permission(actor, PUBLISH, "You may not publish, pause, resume or end campaigns.")
    campaign = _locked(code)
    if campaign.status not in allowed:
        raise CampaignNotChangeable(
            f"Campaign {code} is {campaign.get_status_display()}; it cannot become {Campaign.Status(to).label}."
        )
    launching = to == Campaign.Status.PUBLISHED and campaign.status != Campaign.Status.PAUSED
    campaign.status = to
    campaign.save(update_fields=["status"])
    if launching:
        _assign_audience(campaign)
    _announce(campaign)
    return campaign


def _assign_audience(campaign: Campaign) -> None:
    """A campaign with a holdout keeps its audience at launch, the population its uplift report
    compares (campaigns.uplift), in one INSERT ... SELECT."""
    if campaign.holdout_percent == 0:
        return
    now = timezone.now()
    audience = in_audience(Member.objects.all(), campaign, at=now).values("pk")
    if connection.vendor == "postgresql":
        sql, params = audience.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {CampaignAssignment._meta.db_table} (campaign_id, member_id, assigned_at)
                    SELECT %s, a.id, %s FROM ({sql}) AS a(id) ON CONFLICT DO NOTHING""",
                [campaign.pk, now, *params],
            )
        return
    CampaignAssignment.objects.bulk_create(
        (
            CampaignAssignment(campaign=campaign, member_id=pk, assigned_at=now)
            for pk in audience.values_list("pk", flat=True)
        ),
        ignore_conflicts=True,
        batch_size=5000,
    )


@transaction.atomic
def publish_campaign(*, code: str, actor=None) -> Campaign:
    """A draft goes live: scheduled until its start, running within its window. Its segments are
    pinned to their current versions and its cost forecast is made (campaigns.forecast); when the
    forecast exceeds the program's campaign_approval_limit, a staff actor's request waits for a
    second person (`approve_campaign`)."""
    require_permission(actor, PUBLISH, "You may not publish, pause, resume or end campaigns.")
    campaign = _locked(code)
    version = campaign.current
    parsed = check_terms(campaign.kind, version.terms)  # what it names may have gone since it was saved
    if parsed.ends_at is not None and parsed.ends_at <= timezone.now():
        raise InvalidInput("The campaign's window is over.", fields={"ends_at": ["In the past."]})
    if campaign.status == Campaign.Status.DRAFT:
        _pin(version)
        version.forecast = forecast_campaign(campaign, now=timezone.now()).as_json()
        if actor is not None and forecast_points(version.forecast) > ProgramSettings.current().campaign_approval_limit:
            version.published_at = None
            version.save(update_fields=["segment_version", "exclude_segment_version", "published_at", "forecast"])
            campaign.status, campaign.publish_requested_by = Campaign.Status.AWAITING_APPROVAL, actor
            campaign.save(update_fields=["status", "publish_requested_by"])
            _announce(campaign)
            return campaign
        version.save(update_fields=["segment_version", "exclude_segment_version", "published_at", "forecast"])
    return _move(code, actor, allowed=(Campaign.Status.DRAFT,), to=Campaign.Status.PUBLISHED)


def _check_within_approval_limit(campaign: Campaign, actor) -> None:
    """A published campaign's new terms are forecast too: above the approval limit a staff member's
    edit is refused (it would skip the second person); a clone goes through approval instead."""
    version = campaign.current
    version.forecast = forecast_campaign(campaign, now=timezone.now()).as_json()
    version.save(update_fields=["forecast"])
    limit = ProgramSettings.current().campaign_approval_limit
    if actor is not None and forecast_points(version.forecast) > limit:
        raise InvalidInput(
            f"The new terms' forecast exceeds the approval limit ({limit:,} points): clone the campaign and "
            "publish the clone for approval.",
            fields={"terms": ["Above the approval limit."]},
        )


def forecast_points(forecast: dict) -> Decimal:
    """A forecast's cost in points: its points, and its coupons at the program's point value."""
    point_value = ProgramSettings.current().point_value
    coupons = Decimal(forecast["coupons_cost"]) / point_value if point_value else Decimal(0)
    return forecast["points"] + coupons


class SamePerson(LoyaltyError):
    """The person who asked to publish a campaign cannot approve it."""

    code = "same_person"


@transaction.atomic
def approve_campaign(*, code: str, actor) -> Campaign:
    """The second person publishes a campaign awaiting approval (maker-checker)."""
    require_permission(actor, PUBLISH, "You may not publish, pause, resume or end campaigns.")
    campaign = _locked(code)
    if campaign.status != Campaign.Status.AWAITING_APPROVAL:
        raise CampaignNotChangeable(f"Campaign {code} is not awaiting approval.")
    if actor is not None and campaign.publish_requested_by_id == actor.pk:
        raise SamePerson("Another person approves what you asked to publish.")
    version = campaign.current
    version.published_at = timezone.now()
    version.save(update_fields=["published_at"])
    return _move(code, actor, allowed=(Campaign.Status.AWAITING_APPROVAL,), to=Campaign.Status.PUBLISHED)


@transaction.atomic
def decline_campaign(*, code: str, actor) -> Campaign:
    """A campaign awaiting approval goes back to draft."""
    campaign = _move(code, actor, allowed=(Campaign.Status.AWAITING_APPROVAL,), to=Campaign.Status.DRAFT)
    Campaign.objects.filter(pk=campaign.pk).update(publish_requested_by=None)
    return campaign


@transaction.atomic
def pause_campaign(*, code: str, actor=None) -> Campaign:
    return _move(code, actor, allowed=(Campaign.Status.PUBLISHED,), to=Campaign.Status.PAUSED)


@transaction.atomic
def resume_campaign(*, code: str, actor=None) -> Campaign:
    return _move(code, actor, allowed=(Campaign.Status.PAUSED,), to=Campaign.Status.PUBLISHED)


@transaction.atomic
def end_campaign(*, code: str, actor=None) -> Campaign:
    """For good: an ended campaign grants nothing more and is not edited (clone it instead)."""
    return _move(code, actor, allowed=(Campaign.Status.PUBLISHED, Campaign.Status.PAUSED), to=Campaign.Status.ENDED)


@transaction.atomic
def end_finished_grants(*, codes: list[str]) -> None:
    """The system's own move (no actor): grant campaigns whose one-off grant went to every member
    of their audience end."""
    for code in sorted(codes):
        campaign = _locked(code)
        if campaign.kind == Campaign.Kind.GRANT and campaign.status == Campaign.Status.PUBLISHED:
            campaign.status = Campaign.Status.ENDED
            campaign.save(update_fields=["status"])
            _announce(campaign)


@transaction.atomic
def clone_campaign(*, code: str, new_code: str, name: str | None = None, actor=None) -> Campaign:
    """A new draft with the terms in force of `code` (any status), its own holdout assignment."""
    require_permission(actor, "campaigns.add_campaign", "You may not create campaigns.")
    source = Campaign.objects.select_related("current_version").filter(code=code).first()
    if source is None:
        raise InvalidInput(f"No campaign {code!r}.", fields={"code": ["Unknown campaign."]})
    if Campaign.objects.filter(code=new_code).exists():
        raise InvalidInput(f"Campaign {new_code} exists.", fields={"new_code": ["Taken."]})
    clone = save_campaign(
        code=new_code,
        name=name or source.name,
        kind=source.kind,
        terms=source.current.terms,
        description=source.description,
        public=source.public,
        holdout_percent=source.holdout_percent,
        actor=actor,
    )
    Campaign.objects.filter(pk=clone.pk).update(cloned_from=source)
    clone.cloned_from = source
    return clone
