"""The rewards' scheduled jobs: benefits (monthly, birthday), expiring coupons, releasing expired holds."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.models import JobRun, PointsEntry, TierChange
from loyalty.services.jobs import period_key
from members.services import freeze_member
from rewards.models import BenefitGrant, Coupon, PointsHold, PoolCode
from rewards.selectors import referral_rebate_percent
from rewards.services import hold_points, redeem
from tests.helpers import assert_ledger_consistent, local

from .factories import fill_pool

pytestmark = pytest.mark.django_db

FIRST_OF_DECEMBER = local(2026, 12, 1, 5)


@pytest.fixture
def monthly(make_benefit, make_template, tiers):
    template = make_template(kind="free_shipping", value=0, min_spend=0, valid_days=31)
    return make_benefit(
        entitlement="monthly_coupons",
        coupon_template=template,
        coupon_quantity=2,
        tiers=[tiers["gold"], tiers["platinum"]],
    )


def test_period_keys_of_the_rewards_jobs(program):
    utc = local(2026, 12, 1, 1)  # 2026-11-30 17:00 UTC
    assert period_key("issue_benefits", utc) == "2026-12"
    assert period_key("issue_birthday_gifts", utc) == "2026-12-01"
    assert period_key("expire_coupons", utc) == "2026-12-01"
    assert period_key("release_expired_holds", utc) == "2026-12-01T01"


def test_monthly_coupons_go_to_active_members_of_the_tiers_once_a_month(
    make_member, give_growth, monthly, tiers, run_job
):
    gold, platinum, silver, frozen = (make_member() for _ in range(4))
    give_growth(gold, 6000)
    give_growth(platinum, 15000)
    give_growth(silver, 2000)
    give_growth(frozen, 6000)
    freeze_member(member=frozen)

    run = run_job("issue_benefits", FIRST_OF_DECEMBER)

    assert (run.status, run.period, run.members_changed) == ("done", "2026-12", 2)
    grants = BenefitGrant.objects.order_by("member_id")
    assert [(g.member_id, g.period, g.coupon_count, g.tier_id) for g in grants] == [
        (gold.pk, "2026-12", 2, tiers["gold"].pk),
        (platinum.pk, "2026-12", 2, tiers["platinum"].pk),
    ]
    coupons = Coupon.objects.filter(member=gold)
    assert coupons.count() == 2 and {c.grant_id for c in coupons} == {grants[0].pk}
    assert {(c.valid_from, c.valid_until) for c in coupons} == {(FIRST_OF_DECEMBER, local(2027, 1, 1))}
    assert len(set(Coupon.objects.values_list("code", flat=True))) == 4

    assert run_job("issue_benefits", FIRST_OF_DECEMBER + timedelta(days=3)).pk == run.pk
    JobRun.objects.all().delete()
    run_job("issue_benefits", FIRST_OF_DECEMBER)
    assert BenefitGrant.objects.count() == 2, "one grant per member, benefit and month, even on a new run"


def test_a_member_who_drops_below_the_tier_stops_receiving(member, give_growth, monthly, tiers, run_job, user):
    give_growth(member, 6000)
    run_job("issue_benefits", FIRST_OF_DECEMBER)
    member.tier = tiers["silver"]
    member.save()
    TierChange.objects.create(
        member=member, from_tier=tiers["gold"], to_tier=tiers["silver"], reason="manual", growth_value=6000
    )

    run_job("issue_benefits", local(2027, 1, 1, 5))

    assert list(BenefitGrant.objects.values_list("period", flat=True)) == ["2026-12"]


def test_the_grant_constraint_refuses_a_second_grant_per_period(member, monthly, tiers):
    BenefitGrant.objects.create(member=member, benefit=monthly, period="2026-12", tier=tiers["normal"])
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitGrant.objects.create(member=member, benefit=monthly, period="2026-12", tier=tiers["normal"])


def test_coupons_from_a_pool_take_partner_codes_and_a_short_pool_fails_the_run(
    make_member, give_growth, make_benefit, make_template, make_pool, tiers, run_job
):
    pool = make_pool()
    fill_pool(pool, 3)
    template = make_template(code_pool=pool)
    make_benefit(entitlement="monthly_coupons", coupon_template=template, coupon_quantity=1, tiers=[tiers["gold"]])
    members = [make_member() for _ in range(4)]
    for m in members:
        give_growth(m, 6000)

    failed = run_job("issue_benefits", FIRST_OF_DECEMBER)

    assert failed.status == "failed" and "code pool" in failed.error
    assert not BenefitGrant.objects.exists(), "the chunk wrote nothing"
    fill_pool(pool, 1, prefix="Q")
    done = run_job("issue_benefits", FIRST_OF_DECEMBER)
    assert done.status == "done"
    assert set(Coupon.objects.values_list("code", flat=True)) == set(PoolCode.objects.values_list("code", flat=True))
    assert set(PoolCode.objects.values_list("status", flat=True)) == {"issued"}


def test_birthday_gifts_in_the_birthday_month_once_a_year_with_points_growth_and_a_coupon(
    make_member, give_growth, make_benefit, make_template, tiers, run_job
):
    make_benefit(
        entitlement="birthday_gift",
        points=200,
        growth=600,
        coupon_template=make_template(),
        coupon_quantity=1,
        tiers=[tiers["silver"], tiers["gold"]],
    )
    december = make_member(birthday=date(1990, 12, 24))
    january = make_member(birthday=date(1990, 1, 2))
    for m in (december, january):
        give_growth(m, 5500)

    run = run_job("issue_birthday_gifts", FIRST_OF_DECEMBER)

    assert (run.period, run.members_changed) == ("2026-12-01", 1)
    grant = BenefitGrant.objects.get()
    assert (grant.member_id, grant.period, grant.points, grant.growth, grant.coupon_count) == (
        december.pk,
        "2026",
        200,
        600,
        1,
    )
    december.refresh_from_db()
    assert (december.points_available, december.growth_value, december.tier) == (200, 6100, tiers["gold"])
    upgrade = TierChange.objects.get(member=december, reason="upgrade", to_tier=tiers["gold"])
    assert (upgrade.from_tier, upgrade.to_tier) == (tiers["silver"], tiers["gold"])
    lot = PointsEntry.objects.get(member=december, kind="earn")
    assert lot.expires_at == local(2027, 12, 2) and "2026" in lot.reason
    run_job("issue_birthday_gifts", FIRST_OF_DECEMBER + timedelta(days=1))
    assert BenefitGrant.objects.count() == 1, "once a year"
    for m in (december, january):
        assert_ledger_consistent(m)


def test_expire_coupons(member, give_points, make_reward, run_job):
    give_points(member, 300)
    reward = make_reward()
    for key in ("a", "b"):
        redeem(source="shop", member=member.external_id, reward=reward.code, idempotency_key=key)
    stale = Coupon.objects.first()
    Coupon.objects.filter(pk=stale.pk).update(
        valid_from=timezone.now() - timedelta(days=40), valid_until=timezone.now() - timedelta(days=1)
    )

    run = run_job("expire_coupons", timezone.now())

    assert (run.status, run.error, run.members_changed, run.entries_written) == ("done", "", 1, 1)
    assert dict(Coupon.objects.values_list("pk", "status")) == {stale.pk: "expired", Coupon.objects.last().pk: "active"}


def test_release_expired_holds_refunds_to_the_lots_set_based(make_member, give_points, run_job):
    alice, bob = make_member(), make_member()
    short = give_points(alice, 100, expires_at=timezone.now() + timedelta(hours=2))
    give_points(alice, 100, expires_at=timezone.now() + timedelta(days=100))
    give_points(bob, 50)
    held = hold_points(source="shop", member=alice.external_id, amount=150, order_id="o", idempotency_key="a").hold
    kept = hold_points(source="shop", member=bob.external_id, amount=50, order_id="o", idempotency_key="b").hold
    PointsHold.objects.filter(pk=held.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    # The short lot passed its expiry while its points were held: they come back expired.
    PointsEntry.objects.filter(pk=short.pk).update(expires_at=timezone.now() - timedelta(seconds=30))

    run = run_job("release_expired_holds", timezone.now())

    assert (run.members_changed, run.entries_written) == (1, 3)
    assert PointsHold.objects.get(pk=held.pk).release_reason == "expired"
    assert PointsHold.objects.get(pk=kept.pk).status == "held"
    alice.refresh_from_db()
    assert alice.points_available == 50 + 50  # the long lot's 100, minus nothing; the short lot's 100 expired
    for m in (alice, bob):
        assert_ledger_consistent(m)


def test_dry_runs_say_what_would_happen(member, give_growth, monthly, run_job):
    give_growth(member, 6000)
    out = StringIO()
    for job in ("issue_benefits", "issue_birthday_gifts", "expire_coupons", "release_expired_holds"):
        call_command("run_job", job, "--dry-run", "--as-of", "2026-12-01T05:00+08:00", stdout=out)
    text = out.getvalue()
    assert f"{monthly.code}: 1 members in its tiers, 0 already granted for 2026-12." in text
    assert "No active birthday gifts." in text
    assert "0 active coupons would expire." in text
    assert "0 expired holds (0 points) would be released." in text
    assert not BenefitGrant.objects.exists()


def test_the_referral_rebate_is_the_best_one_of_the_member_s_tier(member, give_growth, make_benefit, tiers):
    make_benefit(entitlement="referral_rebate", rebate_percent=Decimal("5"), tiers=[tiers["platinum"]])
    make_benefit(entitlement="referral_rebate", rebate_percent=Decimal("10"), tiers=[tiers["diamond"]])
    assert referral_rebate_percent(member=member) is None
    give_growth(member, 40000)
    assert referral_rebate_percent(member=member) == Decimal("10")
