"""Campaigns in the admin (issue 19): the list's budget burn-down, the editor's audience size and
forecast, the uplift report, each campaign's grants, and approval by a second person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import earning
from campaigns.models import Campaign
from campaigns.services.campaigns import publish_campaign, save_campaign
from tests.campaigns.test_campaign_earning import running
from tests.factories import MemberFactory
from tests.helpers import purchase

pytestmark = pytest.mark.django_db

MARKETING = (
    "campaigns.view_campaign",
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.publish_campaign",
)


def test_the_list_shows_the_budget_burn_down_and_the_page_its_forecast_results_and_grants(client, login_as, program):
    members = [MemberFactory() for _ in range(6)]
    campaign = running("double", points_multiplier="2", budget={"points": 1000}, holdout_percent=50)
    for member in members:
        purchase(member, 100, occurred_at=timezone.now() - timedelta(minutes=1))
    login_as(*MARKETING)

    listing = client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    used = sum(100 for m in members if not earning.held_out(campaign.salt, m.pk, 50))
    assert f'<meter min="0" max="1000" value="{used}">' in listing

    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).content.decode()
    assert "6 members" in page  # the audience now
    assert "Members reached" in page  # the forecast
    assert "Inconclusive" in page  # six members are too few to tell
    grants = client.get(reverse("admin:campaigns_campaigngrant_changelist") + f"?campaign__id__exact={campaign.pk}")
    assert grants.status_code == 200 and grants.content.decode().count(">Double<") >= 6


def test_a_second_person_approves_from_the_list(client, login_as, program, configure_program):
    configure_program(campaign_approval_limit=10)
    MemberFactory()
    save_campaign(code="gift", name="Gift", kind="grant", terms={"reward": {"points": 100}})
    maker = login_as(*MARKETING, username="maker")
    publish_campaign(code="gift", actor=maker)
    assert Campaign.objects.get(code="gift").status == Campaign.Status.AWAITING_APPROVAL

    changelist = reverse("admin:campaigns_campaign_changelist")
    pk = Campaign.objects.get(code="gift").pk
    refused = client.post(changelist, {"action": "approve", "_selected_action": [pk]}, follow=True)
    assert "Another person approves" in refused.content.decode()

    login_as(*MARKETING, username="checker")
    client.post(changelist, {"action": "approve", "_selected_action": [pk]}, follow=True)
    assert Campaign.objects.get(code="gift").status == Campaign.Status.PUBLISHED


def test_the_member_page_explains_each_events_points(client, login_as, program):
    member = MemberFactory()
    running("double", points_multiplier="2", budget={"per_member_points": 60})
    purchase(member, 50)
    purchase(member, 50)
    login_as("members.view_member")

    page = client.get(reverse("admin:members_member_change", args=[member.pk])).content.decode()

    assert "Why this many points" in page
    assert "Double: +50" in page
    assert "Double: +10 (wanted 50)" in page  # the per-member budget cut the second
