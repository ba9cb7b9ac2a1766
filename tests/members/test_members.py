"""Enrolling members, their profile, and what their status allows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from loyalty.models import TierChange
from loyalty.services import enrol_member, spend_points
from members.errors import InvalidInput, MemberClosed, MemberExists, MemberFrozen
from members.models import Member
from members.services import close_member, freeze_member, unfreeze_member, update_member
from tests.helpers import assert_ledger_consistent, ledger_counts, record

pytestmark = pytest.mark.django_db


# --- enrolment --------------------------------------------------------------------------------------


def test_enrolment_puts_the_member_on_the_lowest_tier(tiers):
    member = enrol_member(external_id="shop-1", name="Han Meimei")
    assert member.tier == tiers["normal"]
    assert (member.growth_value, member.points_available, member.points_pending) == (0, 0, 0)


def test_enrolment_records_an_enrolment_tier_change(tiers):
    member = enrol_member(external_id="shop-1")
    change = TierChange.objects.get(member=member)
    assert change.reason == TierChange.Reason.ENROLMENT
    assert change.from_tier is None
    assert change.to_tier == tiers["normal"]
    assert change.growth_value == 0


def test_external_id_is_unique(program):
    enrol_member(external_id="shop-1")
    with pytest.raises(MemberExists):
        enrol_member(external_id="shop-1", name="Someone else")
    assert Member.objects.filter(external_id="shop-1").count() == 1


def test_external_id_is_compared_without_surrounding_spaces(program):
    enrol_member(external_id="shop-1")
    with pytest.raises(MemberExists):
        enrol_member(external_id="  shop-1 ")


def test_external_id_is_required(program):
    with pytest.raises(InvalidInput) as exc:
        enrol_member(external_id="   ")
    assert "external_id" in exc.value.fields
    assert not Member.objects.exists()


def test_referrer_is_named_by_external_id(program):
    referrer = enrol_member(external_id="inviter")
    member = enrol_member(external_id="invitee", referrer="inviter")
    assert member.referrer == referrer


def test_unknown_referrer_is_invalid_input(program):
    with pytest.raises(InvalidInput) as exc:
        enrol_member(external_id="invitee", referrer="nobody")
    assert "referrer" in exc.value.fields
    assert not Member.objects.exists()


def test_invalid_email_is_reported_on_the_email_field(program):
    with pytest.raises(InvalidInput) as exc:
        enrol_member(external_id="shop-1", email="not-an-email")
    assert set(exc.value.fields) == {"email"}
    assert not Member.objects.exists()


def test_future_birthday_is_reported_on_the_birthday_field(program):
    tomorrow = timezone.now().date() + timedelta(days=1)
    with pytest.raises(InvalidInput) as exc:
        enrol_member(external_id="shop-1", birthday=tomorrow)
    assert set(exc.value.fields) == {"birthday"}


@pytest.mark.parametrize("birthday", ["1990-13-01", "yesterday", "1850-01-01"])
def test_malformed_or_implausible_birthday_is_reported_on_the_birthday_field(program, birthday):
    with pytest.raises(InvalidInput) as exc:
        enrol_member(external_id="shop-1", birthday=birthday)
    assert set(exc.value.fields) == {"birthday"}


def test_every_invalid_profile_field_is_reported_at_once(program):
    with pytest.raises(InvalidInput) as exc:
        enrol_member(external_id="shop-1", email="nope", birthday="nope")
    assert set(exc.value.fields) == {"email", "birthday"}


def test_birthday_given_as_iso_text_is_stored_as_a_date(program):
    member = enrol_member(external_id="shop-1", birthday="1990-04-02")
    member.refresh_from_db()
    assert member.birthday == date(1990, 4, 2)


# --- profile ----------------------------------------------------------------------------------------


def test_update_changes_profile_fields(member):
    update_member(member=member, changes={"email": "new@example.com", "birthday": "1988-08-08"})
    member.refresh_from_db()
    assert (member.email, member.birthday) == ("new@example.com", date(1988, 8, 8))


def test_update_refuses_an_invalid_email_and_keeps_the_old_one(member):
    old = member.email
    with pytest.raises(InvalidInput) as exc:
        update_member(member=member, changes={"email": "broken@"})
    assert "email" in exc.value.fields
    member.refresh_from_db()
    assert member.email == old


def test_update_refuses_fields_outside_the_profile(member):
    with pytest.raises(InvalidInput) as exc:
        update_member(member=member, changes={"growth_value": 99999})
    assert "growth_value" in exc.value.fields
    member.refresh_from_db()
    assert member.growth_value == 0


# --- status -----------------------------------------------------------------------------------------


def test_frozen_member_cannot_earn(member):
    freeze_member(member=member)
    before = ledger_counts()
    with pytest.raises(MemberFrozen, match="frozen"):
        record(member, "check_in")
    assert ledger_counts() == before


def test_frozen_member_cannot_spend(member, give_points):
    give_points(member, 100)
    freeze_member(member=member)
    with pytest.raises(MemberFrozen, match="frozen"):
        spend_points(member=member, amount=10, reason="coupon", source="shop", reference="r-1")
    member.refresh_from_db()
    assert member.points_available == 100


def test_frozen_member_keeps_its_balances(member, give_points):
    give_points(member, 100)
    freeze_member(member=member)
    member.refresh_from_db()
    assert member.status == Member.Status.FROZEN
    assert member.points_available == 100
    assert_ledger_consistent(member)


def test_unfrozen_member_earns_again(member):
    freeze_member(member=member)
    unfreeze_member(member=member)
    assert record(member, "check_in").event.growth_delta == 5


def test_closed_member_cannot_earn(member):
    close_member(member=member)
    with pytest.raises(MemberClosed):
        record(member, "check_in")


def test_closed_member_cannot_be_frozen(member):
    close_member(member=member)
    with pytest.raises(InvalidInput):
        freeze_member(member=member)
    member.refresh_from_db()
    assert member.status == Member.Status.CLOSED
