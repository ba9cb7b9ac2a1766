"""Manual adjustments with maker-checker: small ones apply at once, large ones wait for someone else
with the approve permission, and nothing touches the ledger before approval."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.errors import AdjustmentNotPending, InsufficientPoints
from loyalty.models import Adjustment, PointsEntry
from loyalty.services.adjustments import (
    approve_adjustments,
    reject_adjustments,
    request_adjustment,
    request_adjustments,
)
from members.errors import InvalidInput, NotPermitted
from tests.helpers import assert_ledger_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def maker(staff_with):
    return staff_with("loyalty.adjust_points", "loyalty.adjust_growth", username="maker")


@pytest.fixture
def checker(staff_with):
    return staff_with("loyalty.approve_adjustment", username="checker")


def ask(member, maker, amount, kind="points", **extra):
    return request_adjustment(
        member=member, kind=kind, amount=amount, reason=extra.pop("reason", "goodwill"), requested_by=maker, **extra
    )


def test_within_the_limit_it_applies_at_once_with_the_reason_in_the_ledger(member, maker, configure_program):
    configure_program(approval_limit_points=1000)
    adjustment = ask(member, maker, 1000, note="late parcel")
    member.refresh_from_db()
    assert adjustment.status == Adjustment.Status.APPLIED
    assert adjustment.decided_by == maker
    assert member.points_available == 1000
    assert adjustment.points_entry.reason == "Goodwill gesture: late parcel"
    assert adjustment.points_entry.actor == maker
    assert_ledger_consistent(member)


def test_above_the_limit_it_waits_and_the_ledger_is_untouched(member, maker, configure_program):
    configure_program(approval_limit_points=1000)
    adjustment = ask(member, maker, 1001)
    member.refresh_from_db()
    assert adjustment.status == Adjustment.Status.PENDING
    assert member.points_available == 0
    assert not PointsEntry.objects.filter(member=member).exists()


def test_a_negative_amount_counts_by_its_size(member, maker, give_points, configure_program):
    configure_program(approval_limit_points=100)
    give_points(member, 500)
    assert ask(member, maker, -101).status == Adjustment.Status.PENDING
    assert ask(member, maker, -100).status == Adjustment.Status.APPLIED


def test_approval_by_a_second_person_applies_it(member, maker, checker, configure_program):
    configure_program(approval_limit_growth=10)
    adjustment = ask(member, maker, 800, kind="growth")
    [approved] = approve_adjustments(adjustment_ids=[adjustment.pk], approver=checker, note="ok")
    member.refresh_from_db()
    assert (approved.status, approved.decided_by, approved.decision_note) == ("applied", checker, "ok")
    assert member.growth_value == 800
    assert approved.growth_entry.actor == checker
    assert member.tier.code == "bronze"  # growth added by approval upgrades like any growth


def test_nobody_approves_their_own_request(member, staff_with, configure_program):
    configure_program(approval_limit_points=1)
    both = staff_with("loyalty.adjust_points", "loyalty.approve_adjustment")
    adjustment = ask(member, both, 50)
    with pytest.raises(NotPermitted):
        approve_adjustments(adjustment_ids=[adjustment.pk], approver=both)
    adjustment.refresh_from_db()
    assert adjustment.status == Adjustment.Status.PENDING


def test_approving_needs_the_permission(member, maker, staff_with, configure_program):
    configure_program(approval_limit_points=1)
    adjustment = ask(member, maker, 50)
    other = staff_with("loyalty.adjust_points")
    with pytest.raises(NotPermitted):
        approve_adjustments(adjustment_ids=[adjustment.pk], approver=other)
    with pytest.raises(NotPermitted):
        reject_adjustments(adjustment_ids=[adjustment.pk], approver=other)


def test_asking_needs_the_permission_for_that_kind(member, staff_with):
    points_only = staff_with("loyalty.adjust_points")
    with pytest.raises(NotPermitted):
        ask(member, points_only, 5, kind="growth")
    assert not Adjustment.objects.exists()


def test_a_decided_adjustment_cannot_be_decided_again(member, maker, checker, configure_program):
    configure_program(approval_limit_points=1)
    adjustment = ask(member, maker, 50)
    reject_adjustments(adjustment_ids=[adjustment.pk], approver=checker, note="no receipt")
    with pytest.raises(AdjustmentNotPending):
        approve_adjustments(adjustment_ids=[adjustment.pk], approver=checker)
    member.refresh_from_db()
    assert member.points_available == 0
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decision_note) == ("rejected", "no receipt")


def test_a_refused_approval_applies_none_and_leaves_them_pending(
    make_member, maker, checker, give_points, configure_program
):
    configure_program(approval_limit_points=1)
    rich, poor = make_member(), make_member()
    give_points(rich, 100)
    adjustments = request_adjustments(
        members=[rich, poor], kind="points", amount=-60, reason="fraud", requested_by=maker
    )
    with pytest.raises(InsufficientPoints):
        approve_adjustments(adjustment_ids=[a.pk for a in adjustments], approver=checker)
    rich.refresh_from_db()
    assert rich.points_available == 100
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"pending"}


def test_a_bulk_request_needs_approval_when_its_total_is_above_the_limit(make_member, maker, configure_program):
    configure_program(approval_limit_points=1000)
    members = [make_member() for _ in range(3)]
    small = request_adjustments(members=members, kind="points", amount=300, reason="goodwill", requested_by=maker)
    large = request_adjustments(members=members, kind="points", amount=400, reason="goodwill", requested_by=maker)
    assert {a.status for a in small} == {"applied"}
    assert {a.status for a in large} == {"pending"}
    assert len({a.batch for a in large}) == 1


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 5, "reason": "nonsense"}, "reason"),
        ({"amount": 5, "reason": "other"}, "note"),
        ({"amount": -5, "points_expire_at": timezone.now() + timedelta(days=9)}, "points_expire_at"),
        ({"amount": 5, "points_expire_at": timezone.now() - timedelta(days=1)}, "points_expire_at"),
        ({"amount": 5, "kind": "growth", "points_expire_at": timezone.now() + timedelta(days=9)}, "points_expire_at"),
    ],
)
def test_bad_requests_are_refused_by_field_and_write_nothing(member, maker, request_fields, field):
    fields = {"kind": "points", "reason": "goodwill", **request_fields}
    with pytest.raises(InvalidInput) as refused:
        request_adjustment(member=member, requested_by=maker, **fields)
    assert field in refused.value.fields
    assert not Adjustment.objects.exists()


def test_added_points_can_get_their_own_expiry(member, maker):
    expires = timezone.now() + timedelta(days=30)
    adjustment = ask(member, maker, 10, points_expire_at=expires)
    assert adjustment.points_entry.expires_at == expires


def test_the_admin_asks_for_confirmation_and_a_note_before_deciding(
    client, member, maker, staff_with, configure_program
):
    configure_program(approval_limit_points=1000)
    pending = ask(member, maker, 5000)
    checker = staff_with("loyalty.approve_adjustment", "loyalty.view_adjustment", username="checker")
    client.force_login(checker)
    url = reverse("admin:loyalty_adjustment_changelist")
    chosen = {"action": "approve", "_selected_action": [pending.pk]}

    asked = client.post(url, chosen)
    pending.refresh_from_db()
    assert asked.status_code == 200 and "id_note" in asked.content.decode()
    assert pending.status == Adjustment.Status.PENDING  # nothing applied before the confirmation

    client.post(url, {**chosen, "post": "yes", "note": "receipt checked"})
    pending.refresh_from_db()
    assert (pending.status, pending.decision_note, pending.decided_by) == ("applied", "receipt checked", checker)


def test_approvers_see_a_badge_and_the_requester_hears_of_the_decision_once(
    client, member, maker, staff_with, configure_program
):
    configure_program(approval_limit_points=1000)
    pending = ask(member, maker, 5000)
    checker = staff_with("loyalty.approve_adjustment", "loyalty.view_adjustment", username="checker")
    client.force_login(checker)
    dashboard = client.get(reverse("admin:index"))
    assert dashboard.context["pending_approvals"] == 1
    assert "1 approval waiting" in dashboard.content.decode()

    approve_adjustments(adjustment_ids=[pending.pk], approver=checker, note="receipt checked")
    client.force_login(maker)
    first = [str(m) for m in client.get(reverse("admin:index")).context["messages"]]
    again = [str(m) for m in client.get(reverse("admin:index")).context["messages"]]

    assert [m for m in first if "was approved by checker" in m and "receipt checked" in m]
    assert not [m for m in again if "was approved" in m]
    assert "pending_approvals" not in client.get(reverse("admin:index")).context  # the maker may not approve
