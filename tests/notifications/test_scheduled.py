"""The scheduled notices: set-based jobs that write domain events, which the outbox subscriber turns
into notifications. Tier at risk agrees with the recalculation itself; the points digest and the
coupon reminder pick exactly the right lots and coupons."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from loyalty import outbox
from loyalty.models import GrowthEntry, Tier
from loyalty.services import adjust_growth
from loyalty.services.jobs import run_job_now
from members.models import DomainEvent, Member
from notifications import jobs, rules
from rewards.models import Coupon
from rewards.services.coupons import CouponOwner, issue_coupons
from tests.notifications.conftest import assert_valid, relay_and_send
from tests.rewards.factories import CouponTemplateFactory

pytestmark = pytest.mark.django_db


def local(program, year, month, day, hour=10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=program.zone)


def payloads(event_type: str) -> dict[str, dict]:
    return {e.member_external_id: e.payload for e in DomainEvent.objects.filter(type=event_type)}


# --- tier at risk -----------------------------------------------------------------------------------


def test_members_the_recalculation_would_move_down_are_told_and_exactly_they_move(enrol, user, program, tiers):
    """Seeded: members on several tiers, some of whose growth lots expire before the recalculation.
    The notice 7 days before names exactly the members the recalculation then moves down."""
    # Within the growth window of today's lots, so that the lots not moved by hand still count.
    today = timezone.localtime(timezone.now(), program.zone).date()
    first = rules.next_day_matching(today + timedelta(days=32), lambda day: day.day == 1)
    recalculation = local(program, first.year, first.month, 1, hour=4)
    notice = recalculation.replace(hour=10) - timedelta(days=7)
    people, left = {}, {}
    for index, (growth, expiring) in enumerate(
        [(600, 0), (600, 200), (2500, 0), (2500, 600), (7000, 1500), (7000, 6000), (600, 600), (16000, 2000)]
    ):
        member = enrol(f"R-{index}")
        left[member.external_id] = growth - expiring
        if growth > expiring:
            adjust_growth(member=member, amount=growth - expiring, reason="setup", actor=user)
        if expiring:
            adjust_growth(member=member, amount=expiring, reason="setup", actor=user)
            lot = GrowthEntry.objects.filter(member=member, amount=expiring).latest("id")
            GrowthEntry.objects.filter(pk=lot.pk).update(expires_at=recalculation - timedelta(days=3))
        people[member.external_id] = member
    outbox.relay()
    run = run_job_now(job="notify_tier_at_risk", as_of=notice)
    told = payloads("tier.at_risk")
    assert run.entries_written == len(told) > 0
    before = {m.external_id: m.tier_id for m in Member.objects.filter(external_id__in=people)}
    run_job_now(job="expire_growth", as_of=recalculation - timedelta(minutes=30))
    run_job_now(job="recalculate_tiers", as_of=recalculation)
    after = {m.external_id: m.tier_id for m in Member.objects.filter(external_id__in=people)}
    ranks = {tier.pk: tier.rank for tier in tiers.values()}
    moved_down = {code for code in people if ranks[after[code]] < ranks[before[code]]}
    assert set(told) == moved_down
    for code, payload in told.items():
        assert payload["to"] == Tier.objects.get(pk=after[code]).code
        assert payload["tier"] == Tier.objects.get(pk=before[code]).code
        assert payload["on"] == first.isoformat()
        assert payload["growth_needed"] == tiers[payload["tier"]].threshold - left[code]
    for event in DomainEvent.objects.filter(type="tier.at_risk"):
        assert_valid(event)


def test_the_notice_goes_only_on_its_day(enrol, user, program):
    member = enrol("R-1")
    adjust_growth(member=member, amount=600, reason="setup", actor=user)
    GrowthEntry.objects.filter(member=member).update(expires_at=local(program, 2031, 2, 25))
    assert run_job_now(job="notify_tier_at_risk", as_of=local(program, 2031, 2, 21)).entries_written == 0
    assert jobs.preview_at_risk(local(program, 2031, 2, 21))[0]["code"] == "at_risk_not_today"
    assert jobs.preview_at_risk(local(program, 2031, 2, 22))[0]["params"] == {"members": 1}
    assert run_job_now(job="notify_tier_at_risk", as_of=local(program, 2031, 2, 22)).entries_written == 1
    payload = payloads("tier.at_risk")["R-1"]
    assert payload["growth_needed"] == 500  # bronze needs 500; all 600 expire before the day


def test_the_at_risk_notice_reaches_an_opted_in_member_in_their_language(enrol, user, program, tiers):
    member = enrol("R-2", marketing_opt_in=True, language="zh-hans")
    adjust_growth(member=member, amount=600, reason="setup", actor=user)
    GrowthEntry.objects.filter(member=member).update(expires_at=local(program, 2031, 2, 25))
    relay_and_send()
    mail.outbox.clear()
    run_job_now(job="notify_tier_at_risk", as_of=local(program, 2031, 2, 22))
    # A run for a day long past (or, here, to come) is news when it is written.
    relay_and_send()
    (email,) = mail.outbox
    assert email.subject == f"保级提醒：您的{tiers['bronze'].name}等级即将调整"
    assert "2031年3月1日" in email.body and "500成长值" in email.body


# --- points expiring ----------------------------------------------------------------------------------


def test_the_digest_tells_each_lot_before_it_expires_by_its_last_day(enrol, program, give_points):
    """Lots expire at local midnight: the one expiring at the start of 11 May is usable until 10 May.
    The window reaches past the next digest (1 June, 10:00, after that night's expiry run), so a lot
    expiring at the start of 1 June is told now; so is one at the end of that day, told again then."""
    as_of = local(program, 2031, 5, 1)
    member = enrol("P-1", marketing_opt_in=True)
    give_points(member, 100, expires_at=local(program, 2031, 5, 11, hour=0))
    give_points(member, 50, expires_at=local(program, 2031, 5, 10, hour=12))  # the same last day
    give_points(member, 70, expires_at=local(program, 2031, 6, 1, hour=0))  # gone before the next digest
    give_points(member, 30, expires_at=local(program, 2031, 6, 2, hour=0))  # told now and on 1 June
    give_points(member, 999, expires_at=local(program, 2031, 6, 2, hour=1))  # the next digest's
    give_points(member, 5, expires_at=None)  # never
    other = enrol("P-2")
    give_points(other, 20, expires_at=local(program, 2031, 6, 20))
    run = run_job_now(job="notify_points_expiring", as_of=as_of)
    assert run.entries_written == 1
    assert payloads("points.expiring") == {
        "P-1": {
            "points": 250,
            "lots": [
                {"date": "2031-05-10", "points": 150},
                {"date": "2031-05-31", "points": 70},
                {"date": "2031-06-01", "points": 30},
            ],
        }
    }
    assert_valid(DomainEvent.objects.get(type="points.expiring"))
    relay_and_send()
    email = next(m for m in mail.outbox if "expire" in m.subject)
    assert email.subject == "250 of your points expire soon"
    assert "- 150 points until 10 May 2031" in email.body and "- 70 points until 31 May 2031" in email.body


def test_a_calendar_years_expiry_is_told_in_decembers_digest(enrol, program, give_points):
    member = enrol("P-4", marketing_opt_in=True, language="zh-hans")
    give_points(member, 400, expires_at=local(program, 2032, 1, 1, hour=0))
    run_job_now(job="notify_points_expiring", as_of=local(program, 2031, 12, 1))
    assert payloads("points.expiring")["P-4"]["lots"] == [{"date": "2031-12-31", "points": 400}]
    relay_and_send()
    (email,) = [m for m in mail.outbox if "积分" in m.subject]
    assert "400积分，有效期至2031年12月31日" in email.body


def test_a_second_run_in_the_month_tells_no_one_again(enrol, program, give_points):
    member = enrol("P-3")
    give_points(member, 100, expires_at=local(program, 2031, 5, 10))
    run_job_now(job="notify_points_expiring", as_of=local(program, 2031, 5, 1))
    run_job_now(job="notify_points_expiring", as_of=local(program, 2031, 5, 2))
    assert DomainEvent.objects.filter(type="points.expiring").count() == 1


# --- coupons expiring ---------------------------------------------------------------------------------


def test_coupons_whose_last_day_is_three_days_away_are_reminded_of(enrol, program):
    template = CouponTemplateFactory(code="ten-off", name="10 off", value=Decimal("10"))
    member = enrol("C-1", marketing_opt_in=True)
    as_of = local(program, 2031, 7, 1)
    issued = issue_coupons(
        template=template,
        owners=[CouponOwner(member.pk), CouponOwner(member.pk), CouponOwner(member.pk)],
        issued_at=as_of - timedelta(days=20),
        zone=program.zone,
    )
    due, early, late = issued
    Coupon.objects.filter(pk=due.pk).update(valid_until=local(program, 2031, 7, 4, hour=23))
    Coupon.objects.filter(pk=early.pk).update(valid_until=local(program, 2031, 7, 4, hour=0))  # midnight: the 3rd's end
    Coupon.objects.filter(pk=late.pk).update(valid_until=local(program, 2031, 7, 5, hour=12))
    run = run_job_now(job="notify_coupons_expiring", as_of=as_of)
    assert run.entries_written == 1
    (event,) = DomainEvent.objects.filter(type="coupon.expiring")
    assert event.payload["coupon_id"] == due.pk and event.payload["template"] == "ten-off"
    assert Decimal(event.payload["value"]) == Decimal("10")
    assert_valid(event)
    relay_and_send()
    email = next(m for m in mail.outbox if "expires" in m.subject)
    assert email.subject == "Your coupon 10 off expires in 3 days"
    assert "10 CNY off" in email.body and "4 July 2031 23:00" in email.body


def test_a_run_caught_up_days_later_still_tells(enrol, user, program):
    """The events' time is when the job wrote them: a run --as-of a missed day is news today."""
    member = enrol("R-9", marketing_opt_in=True)
    adjust_growth(member=member, amount=600, reason="setup", actor=user)
    GrowthEntry.objects.filter(member=member).update(expires_at=local(program, 2021, 2, 25))
    relay_and_send()
    mail.outbox.clear()
    run_job_now(job="notify_tier_at_risk", as_of=local(program, 2021, 2, 22))
    relay_and_send()
    assert [m.subject for m in mail.outbox if m.subject.startswith("Keep your")]


def test_no_notices_while_the_recalculation_is_disabled_in_beat(enrol, user, program):
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("setup_schedules", stdout=__import__("io").StringIO())
    PeriodicTask.objects.filter(name="loyalty: recalculate_tiers").update(enabled=False)
    member = enrol("R-10")
    adjust_growth(member=member, amount=600, reason="setup", actor=user)
    GrowthEntry.objects.filter(member=member).update(expires_at=local(program, 2031, 2, 25))
    assert run_job_now(job="notify_tier_at_risk", as_of=local(program, 2031, 2, 22)).entries_written == 0
    assert jobs.preview_at_risk(local(program, 2031, 2, 22))[0]["code"] == "recalculation_not_scheduled"
    PeriodicTask.objects.filter(name="loyalty: recalculate_tiers").update(enabled=True)
    assert jobs.preview_at_risk(local(program, 2031, 2, 23))[0]["params"] == {"day": "2031-03-25"}
    # Moved in the admin to quarterly, on the 15th: the notices follow.
    task = PeriodicTask.objects.select_related("crontab").get(name="loyalty: recalculate_tiers")
    task.crontab.day_of_month, task.crontab.month_of_year = "15", "1,4,7,10"
    task.crontab.save()
    assert jobs.preview_at_risk(local(program, 2031, 2, 23))[0]["params"] == {"day": "2031-04-08"}
    GrowthEntry.objects.filter(member=member).update(expires_at=local(program, 2031, 4, 10))
    assert run_job_now(job="notify_tier_at_risk", as_of=local(program, 2031, 4, 8)).entries_written == 1
