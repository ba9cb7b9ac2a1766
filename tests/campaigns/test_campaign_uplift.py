"""A campaign's uplift against its holdout (issue 19): the audience at launch is assigned once,
intent to treat over the window fixed at launch, Welch's confidence interval, `inconclusive` below
the minimum sample; and the program's global control group no campaign touches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import earning, uplift
from campaigns.models import CampaignAssignment, CampaignGrant
from loyalty.services import record_events
from tests.campaigns.test_campaign_earning import running, shares
from tests.factories import MemberFactory
from tests.helpers import purchase

pytestmark = pytest.mark.django_db


def test_treated_members_who_spend_more_show_a_positive_uplift_with_its_interval(program):
    members = [MemberFactory() for _ in range(400)]
    campaign = running("double", points_multiplier="2", holdout_percent=50)
    assert CampaignAssignment.objects.filter(campaign=campaign).count() == 400
    held = {m.pk for m in members if earning.held_out(campaign.salt, m.pk, 50)}
    events = []
    for n, member in enumerate(members):
        if n % 4 == 0:
            continue  # a quarter buy nothing: they stay in their group (intent to treat)
        amount = 100 + n % 7 if member.pk in held else 130 + n % 11
        events.append(
            {
                "event_id": f"e{n}",
                "member": member.external_id,
                "type": "purchase",
                "amount": str(amount),
                "order_id": f"o{n}",
            }
        )
    record_events(source="shop", events=events)

    report = uplift.uplift_report(campaign, now=timezone.now() + timedelta(minutes=1))

    assert report.treated.members + report.held_out.members == 400
    assert report.held_out.members == len(held)
    assert report.verdict == uplift.POSITIVE
    assert 0 < report.spend.low < report.spend.estimate < report.spend.high
    assert report.treated.points > 0 and report.held_out.points == 0
    assert report.spend_per_point == pytest.approx(report.spend.estimate / report.treated.points)


def test_below_the_minimum_sample_the_verdict_is_inconclusive(program):
    members = [MemberFactory() for _ in range(30)]
    campaign = running("double", points_multiplier="2", holdout_percent=50)
    for member in members:
        purchase(member, 100)

    report = uplift.uplift_report(campaign, now=timezone.now() + timedelta(minutes=1))

    assert report.verdict == uplift.INCONCLUSIVE


def test_the_global_control_group_is_touched_by_no_campaign(program, configure_program):
    settings = configure_program(global_control_percent=20)
    members = [MemberFactory() for _ in range(50)]
    running("double", points_multiplier="2")
    controlled = {m.pk for m in members if earning.held_out(settings.control_salt, m.pk, 20)}
    assert 0 < len(controlled) < 50

    outcomes = {m.pk: purchase(m, 100) for m in members}

    for member_pk, outcome in outcomes.items():
        assert shares(outcome) == ([] if member_pk in controlled else [("double", 100, 0)])
    assert not CampaignGrant.objects.filter(member_id__in=controlled).exists()
