"""Triggered and one-off grant campaigns (issue 19): one reward per occurrence — the domain event
for event triggers, the year for birthdays and anniversaries (missed years never stack), the
dormancy spell for `dormant` — through the outbox subscriber, the nightly date triggers (with
--as-of and a dry run) and the grant job; budgets clip them like any grant; a held-out member gets
a ghost."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from campaigns import earning, triggers
from campaigns.models import BudgetCounter, Campaign, CampaignGrant
from loyalty import outbox
from loyalty.extensions import OutboxEvent
from loyalty.models import PointsEntry
from loyalty.services.jobs import run_job_now
from members.models import DomainEvent, Member
from rewards.models import Coupon
from tests.campaigns.test_campaign_earning import running
from tests.factories import MemberFactory
from tests.helpers import local, purchase

pytestmark = pytest.mark.django_db


def points_of(member) -> int:
    return Member.objects.get(pk=member.pk).points_available


def relayed() -> None:
    outbox.relay(max_seconds=10)


def test_a_first_purchase_is_rewarded_once_and_a_redelivery_gives_nothing(program):
    relayed()  # the subscriber starts here
    running("first-buy", kind="triggered", trigger={"type": "first_purchase"}, reward={"points": 200})
    member = MemberFactory()
    purchase(member, 10)
    purchase(member, 10)
    relayed()

    assert points_of(member) == 220
    grant = CampaignGrant.objects.get()
    assert (grant.points, grant.occurrence.startswith("event:")) == (200, True)

    first = DomainEvent.objects.get(type="member.first_purchase")
    triggers.deliver([OutboxEvent.of(first, 1)])  # delivered again
    assert points_of(member) == 220 and CampaignGrant.objects.count() == 1


def test_a_tier_upgrade_to_the_named_tier_grants_points_growth_and_a_coupon(program, give_growth):
    relayed()
    running(
        "gold-welcome",
        kind="triggered",
        trigger={"type": "tier.upgraded", "tier": "gold"},
        reward={"points": 50, "growth": 1, "coupon_template": "ten-off-99"},
    )
    silver, gold = MemberFactory(), MemberFactory()
    give_growth(silver, 2000)
    give_growth(gold, 6000)
    relayed()

    assert points_of(silver) == 0
    assert points_of(gold) == 50
    grant = CampaignGrant.objects.get(member=gold)
    assert grant.coupon == Coupon.objects.get(member=gold)
    lot = PointsEntry.objects.get(member=gold, reason_code="campaign")
    assert lot.reason_params["grant"] == grant.pk


def test_birthday_month_once_a_year_missed_years_never_stack(program):
    running("birthday", kind="triggered", trigger={"type": "birthday"}, reward={"points": 88})
    born_in_june = MemberFactory(birthday=date(1990, 6, 20))
    born_in_may = MemberFactory(birthday=date(1990, 5, 20))

    run_job_now(job="campaign_date_triggers", as_of=local(2026, 6, 2, 7))
    run_job_now(job="campaign_date_triggers", as_of=local(2026, 6, 3, 7))  # the next night: not again
    assert (points_of(born_in_june), points_of(born_in_may)) == (88, 0)

    # 2027 is skipped (no run in June); 2028 gives one grant, not two
    run_job_now(job="campaign_date_triggers", as_of=local(2028, 6, 1, 7))
    assert points_of(born_in_june) == 176
    assert sorted(CampaignGrant.objects.values_list("occurrence", flat=True)) == ["birthday:2026", "birthday:2028"]


def test_dormancy_is_one_grant_per_spell(program):
    running("winback", kind="triggered", trigger={"type": "dormant", "days": 90}, reward={"points": 500})
    member = MemberFactory()
    purchase(member, 1, occurred_at=timezone.now() - timedelta(days=200))
    now = timezone.now()

    dry = run_job_now(job="campaign_date_triggers", as_of=now, dry_run=True)
    assert dry.members_changed == 1
    assert points_of(member) == 1, "a dry run writes nothing"
    run_job_now(job="campaign_date_triggers", as_of=now)
    run_job_now(job="campaign_date_triggers", as_of=now + timedelta(days=1))
    assert points_of(member) == 501

    purchase(member, 1, occurred_at=now - timedelta(days=95))  # bought again, then dormant again
    run_job_now(job="campaign_date_triggers", as_of=now + timedelta(days=2))
    assert points_of(member) == 1002
    assert CampaignGrant.objects.filter(campaign__code="winback").count() == 2


def test_a_one_off_grant_goes_to_the_audience_once_within_its_budget_and_ends(program, give_growth):
    normal = [MemberFactory() for _ in range(4)]
    gold = [MemberFactory() for _ in range(3)]
    for member in gold:
        give_growth(member, 6000)
    campaign = running(
        "gold-gift",
        kind="grant",
        reward={"points": 100},
        audience={"tiers": ["gold"]},
        budget={"points": 250},
        holdout_percent=0,
    )
    now = timezone.now()

    run_job_now(job="campaign_grants", as_of=now)

    assert [points_of(m) for m in normal] == [0, 0, 0, 0]
    assert sorted(points_of(m) for m in gold) == [50, 100, 100]  # the budget ran out on the third
    assert BudgetCounter.objects.get().used == 250
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.ENDED
    assert DomainEvent.objects.filter(type="campaign.budget_exhausted").count() == 1


def test_held_out_members_of_a_trigger_get_a_ghost(program):
    campaign = running(
        "birthday",
        kind="triggered",
        trigger={"type": "birthday"},
        reward={"points": 10},
        holdout_percent=50,
    )
    members = [MemberFactory(birthday=date(1990, 6, 1)) for _ in range(20)]

    run_job_now(job="campaign_date_triggers", as_of=local(2026, 6, 2, 7))

    for member in members:
        held = earning.held_out(campaign.salt, member.pk, 50)
        assert points_of(member) == (0 if held else 10)
        grant = CampaignGrant.objects.get(member=member)
        assert (grant.held_out, grant.points, grant.desired_points) == (held, 0 if held else 10, 10)


def test_a_coupon_only_reward_is_given_and_counted_in_the_grants_budget(program):
    running(
        "birthday-coupon",
        kind="triggered",
        trigger={"type": "birthday"},
        reward={"coupon_template": "ten-off-99"},
        budget={"grants": 1},
    )
    members = [MemberFactory(birthday=date(1990, 6, 1)) for _ in range(2)]

    run_job_now(job="campaign_date_triggers", as_of=local(2026, 6, 2, 7))

    assert Coupon.objects.filter(member__in=members).count() == 1
    assert BudgetCounter.objects.get(budget="grants").used == 1
    assert CampaignGrant.objects.exclude(coupon=None).count() == 1
