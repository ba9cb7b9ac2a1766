"""A campaign's cost forecast before launch and the maker-checker above the approval limit (issue
19): the last 30 days replayed through the terms, writing nothing; a forecast above
campaign_approval_limit waits for a second person."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.forecast import forecast_campaign
from campaigns.models import Campaign, CampaignGrant
from campaigns.services.campaigns import (
    CampaignNotChangeable,
    SamePerson,
    approve_campaign,
    decline_campaign,
    publish_campaign,
    save_campaign,
)
from loyalty.models import PointsEntry
from members.errors import InvalidInput
from members.models import DomainEvent
from tests.factories import MemberFactory
from tests.helpers import purchase, staff_with

pytestmark = pytest.mark.django_db

PUBLISHER = ("campaigns.publish_campaign", "campaigns.add_campaign", "campaigns.change_campaign")


def draft(code: str, kind: str = "multiplier", **terms) -> Campaign:
    return save_campaign(code=code, name=code, kind=kind, terms=terms)


def test_a_multiplier_forecast_replays_the_last_30_days_within_its_budget(program, give_growth):
    now = timezone.now()
    gold = [MemberFactory() for _ in range(3)]
    for member in gold:
        give_growth(member, 6000)
        purchase(member, 100, occurred_at=now - timedelta(days=3))
        purchase(member, 100, occurred_at=now - timedelta(days=40))  # outside the 30 days
    purchase(MemberFactory(), 100, occurred_at=now - timedelta(days=3))  # not gold
    ledger_before = PointsEntry.objects.count()

    campaign = draft("double", event_types=["purchase"], points_multiplier="2", audience={"tiers": ["gold"]})
    forecast = forecast_campaign(campaign, now=now)
    assert (forecast.events, forecast.members, forecast.grants, forecast.points) == (3, 3, 3, 300)
    assert forecast.points_cost == Decimal("3.00")  # at 0.01 a point

    capped = draft(
        "capped", event_types=["purchase"], points_multiplier="2", audience={"tiers": ["gold"]}, budget={"points": 250}
    )
    assert forecast_campaign(capped, now=now).points == 250
    assert PointsEntry.objects.count() == ledger_before and not CampaignGrant.objects.exists()


def test_a_birthday_forecast_counts_the_next_30_days(program):
    now = timezone.now()
    soon = (now + timedelta(days=5)).date()
    MemberFactory(birthday=date(1990, soon.month, soon.day))
    MemberFactory(birthday=date(1990, soon.month, soon.day))
    campaign = draft("bday", kind="triggered", trigger={"type": "birthday", "on": "day"}, reward={"points": 100})

    forecast = forecast_campaign(campaign, now=now)

    assert (forecast.members, forecast.points) == (2, 200)


def test_above_the_approval_limit_a_second_person_approves(program, configure_program):
    configure_program(campaign_approval_limit=150)
    for _ in range(2):
        MemberFactory()
    draft("gift", kind="grant", reward={"points": 100})  # two members: 200 points forecast
    maker, checker = staff_with(*PUBLISHER), staff_with(*PUBLISHER)

    waiting = publish_campaign(code="gift", actor=maker)
    assert waiting.status == Campaign.Status.AWAITING_APPROVAL
    assert waiting.current.forecast["points"] == 200
    with pytest.raises(SamePerson):
        approve_campaign(code="gift", actor=maker)

    published = approve_campaign(code="gift", actor=checker)
    assert published.status == Campaign.Status.PUBLISHED
    statuses = [e.payload["status"] for e in DomainEvent.objects.filter(type="campaign.status_changed").order_by("id")]
    assert statuses == ["awaiting_approval", "published"]


def test_within_the_limit_it_publishes_at_once_and_a_declined_one_is_a_draft_again(program, configure_program):
    configure_program(campaign_approval_limit=150)
    MemberFactory()
    draft("small", kind="grant", reward={"points": 100})
    draft("large", kind="grant", reward={"points": 1000})
    maker, checker = staff_with(*PUBLISHER), staff_with(*PUBLISHER)

    assert publish_campaign(code="small", actor=maker).status == Campaign.Status.PUBLISHED
    publish_campaign(code="large", actor=maker)
    declined = decline_campaign(code="large", actor=checker)
    assert declined.status == Campaign.Status.DRAFT
    assert Campaign.objects.get(code="large").publish_requested_by is None


def test_an_edit_cannot_skip_the_approval(program, configure_program):
    configure_program(campaign_approval_limit=150)
    MemberFactory()
    draft("gift", kind="grant", reward={"points": 100})
    maker = staff_with(*PUBLISHER)
    publish_campaign(code="gift", actor=maker)  # 100 points: within the limit
    with pytest.raises(InvalidInput):
        save_campaign(code="gift", name="gift", kind="grant", terms={"reward": {"points": 1000}}, actor=maker)
    assert Campaign.objects.get(code="gift").current.terms["reward"] == {"points": 100}

    draft("big", kind="grant", reward={"points": 1000})
    publish_campaign(code="big", actor=maker)
    with pytest.raises(CampaignNotChangeable):
        save_campaign(code="big", name="big", kind="grant", terms={"reward": {"points": 1}}, actor=maker)
