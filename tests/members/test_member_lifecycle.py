"""Closing a membership, erasing a member's personal data, and the notes staff keep on a member:
each through its service (permission re-checked, a reason kept with who and when), the first two
behind a confirmation page in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty import extensions
from loyalty.models import Event, PointsEntry
from loyalty.services.privacy import anonymise_member
from members.errors import InvalidInput, MemberClosed, NotPermitted
from members.models import DomainEvent, Member, MemberNote
from members.services import add_member_note, close_member, update_member
from rewards.services import redeem
from tests.helpers import purchase
from tests.helpers import staff_with as staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(program, give_points):
    member = Member.objects.get(pk=_enrol().pk)
    purchase(member, "300", order_id="o-1", data={"address": "上海市黄浦区南京东路 1 号"})
    give_points(member, 5000)
    redeem(
        source="shop", member=member.external_id, reward="mug", idempotency_key="k-1", shipping_address="南京东路 1 号"
    )
    member.refresh_from_db()
    return member


def _enrol():
    from loyalty.services import enrol_member

    return enrol_member(
        external_id="c-1", name="张三", email="zhang@example.com", phone="13800000000", birthday="1990-05-01"
    )


def test_closing_needs_the_permission_and_a_reason_and_keeps_both(customer):
    with pytest.raises(NotPermitted):
        close_member(member=customer, reason="asked to leave", actor=staff())
    closer = staff("members.close_member")
    with pytest.raises(InvalidInput):
        close_member(member=customer, reason="  ", actor=closer)

    close_member(member=customer, reason="asked to leave by phone", actor=closer)

    customer.refresh_from_db()
    assert customer.status == Member.Status.CLOSED and customer.name == "张三", "closing erases nothing"
    note = MemberNote.objects.get(member=customer)
    assert (note.kind, note.text, note.author) == (MemberNote.Kind.CLOSED, "asked to leave by phone", closer)
    with pytest.raises(MemberClosed):
        purchase(customer, "10")


def test_anonymising_erases_the_personal_data_everywhere_and_keeps_the_ledgers(customer):
    add_member_note(
        member=customer, text="Called from 13800000000 about a parcel", actor=staff("members.add_membernote")
    )
    points = list(PointsEntry.objects.filter(member=customer).order_by("pk").values_list("amount", "reason"))
    officer = staff("members.anonymise_member")

    anonymise_member(member=customer, reason="erasure request #17", actor=officer)

    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.phone, customer.birthday) == ("", "", "", None)
    assert customer.external_id == "c-1" and customer.status == Member.Status.CLOSED
    assert customer.anonymised_at is not None
    assert list(PointsEntry.objects.filter(member=customer).order_by("pk").values_list("amount", "reason")) == points
    assert not Event.objects.filter(member=customer).exclude(data={}).exists()
    assert customer.redemptions.get().shipping_address == ""
    notes = {note.kind: note for note in MemberNote.objects.filter(member=customer)}
    assert notes[MemberNote.Kind.NOTE].text == ""
    assert (notes[MemberNote.Kind.ANONYMISED].text, notes[MemberNote.Kind.ANONYMISED].author) == (
        "erasure request #17",
        officer,
    )
    published = list(
        DomainEvent.objects.filter(member=customer).order_by("member_sequence").values_list("type", "payload")
    )
    assert published[-2:] == [("member.status_changed", {"from": "active", "to": "closed"}), ("member.anonymised", {})]
    with pytest.raises(InvalidInput):
        anonymise_member(member=customer, reason="again", actor=officer)
    with pytest.raises(InvalidInput):
        add_member_note(member=customer, text="new", actor=staff("members.add_membernote"))
    with pytest.raises(MemberClosed):
        update_member(member=customer, changes={"phone": "13900000000"})  # a storefront's PATCH


def test_anonymising_is_all_or_nothing_and_needs_its_own_permission(customer):
    with pytest.raises(NotPermitted):
        anonymise_member(member=customer, reason="r", actor=staff("members.close_member", "members.change_member"))

    def broken(member):
        raise RuntimeError("an app's eraser failed")

    extensions.personal_data_erasers.register("broken", broken)
    try:
        with pytest.raises(RuntimeError):
            anonymise_member(member=customer, reason="r", actor=staff("members.anonymise_member"))
    finally:
        extensions.personal_data_erasers.unregister("broken")

    customer.refresh_from_db()
    assert (customer.name, customer.status, customer.anonymised_at) == ("张三", Member.Status.ACTIVE, None)
    assert customer.redemptions.get().shipping_address != ""
    assert not MemberNote.objects.filter(member=customer).exists()


def test_the_member_page_confirms_before_erasing_and_lists_the_notes(client, customer):
    officer = staff(
        "members.view_member", "members.anonymise_member", "members.view_membernote", "members.add_membernote"
    )
    client.force_login(officer)
    page = reverse("admin:members_member_change", args=[customer.pk])
    confirm = reverse("admin:members_member_step", args=[customer.pk, "anonymise"])

    client.post(reverse("admin:members_member_note", args=[customer.pk]), {"text": "prefers email"})
    shown = client.get(page).content.decode()
    assert confirm in shown and "prefers email" in shown
    assert reverse("admin:members_member_step", args=[customer.pk, "close"]) not in shown, "no close permission"

    asked = client.get(confirm)
    assert asked.status_code == 200 and "shipping addresses" in asked.content.decode()
    refused = client.post(confirm, {"reason": ""})
    assert refused.status_code == 200 and refused.context["form"].errors
    customer.refresh_from_db()
    assert customer.anonymised_at is None

    done = client.post(confirm, {"reason": "erasure request #18"}, follow=True)
    customer.refresh_from_db()
    assert customer.anonymised_at is not None and customer.name == ""
    text = done.content.decode()
    assert "erasure request #18" in text and "prefers email" not in text
    assert confirm not in text, "nothing left to erase"
