"""Maker-checker that cannot be walked around: the approval limit counts what one person applied to one
member within 24 hours, and the limits themselves change only with their own permission, raises
needing a second person."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from loyalty.errors import AdjustmentNotPending
from loyalty.models import Adjustment, ApprovalLimitChange, ProgramSettings
from loyalty.services.adjustments import (
    MAX_ADJUSTMENT,
    approve_adjustments,
    approve_limit_change,
    reject_limit_change,
    request_adjustment,
    request_adjustments,
    request_limit_change,
)
from members.errors import InvalidInput, NotPermitted
from members.models import Member
from tests.factories import MemberFactory
from tests.helpers import assert_ledger_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def maker(staff_with):
    return staff_with("loyalty.adjust_points", "loyalty.adjust_growth", username="maker")


def ask(member, requester, amount, kind="points"):
    return request_adjustment(member=member, kind=kind, amount=amount, reason="goodwill", requested_by=requester)


def test_ten_adjustments_in_a_row_count_together_against_the_limit(member, maker, configure_program):
    configure_program(approval_limit_points=1000)
    statuses = [ask(member, maker, 1000).status for _ in range(10)]
    member.refresh_from_db()
    assert statuses == ["applied"] + ["pending"] * 9
    assert member.points_available == 1000
    assert ask(member, maker, -1).status == "pending", "a take-away also counts by its size"


def test_the_window_is_per_requester_per_member_and_rolls_after_24_hours(member, maker, staff_with, configure_program):
    configure_program(approval_limit_points=1000)
    colleague = staff_with("loyalty.adjust_points", username="colleague")
    other = MemberFactory()
    assert ask(member, maker, 800).status == "applied"
    assert ask(other, maker, 800).status == "applied", "another member has a window of its own"
    assert ask(member, colleague, 800).status == "applied", "another requester has a window of their own"
    assert ask(member, maker, 300).status == "pending"
    Adjustment.objects.filter(requested_by=maker, status="applied").update(
        decided_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    assert ask(member, maker, 300).status == "applied"


def test_adjustments_a_second_person_approved_do_not_count(member, maker, staff_with, configure_program):
    configure_program(approval_limit_points=1000)
    checker = staff_with("loyalty.approve_adjustment", username="checker")
    large = ask(member, maker, 5000)
    approve_adjustments(adjustment_ids=[large.pk], approver=checker)
    assert ask(member, maker, 1000).status == "applied"


def test_a_bulk_request_counts_each_members_window(make_member, maker, configure_program):
    configure_program(approval_limit_points=1000)
    first, second = make_member(), make_member()
    assert ask(second, maker, 700).status == "applied"

    batch = request_adjustments(
        members=[first, second], kind="points", amount=400, reason="goodwill", requested_by=maker
    )
    assert {a.status for a in batch} == {"pending"}, "800 in all is within the limit, but the second member gets 1,100"


def test_amounts_beyond_the_bound_are_refused_by_field(member, maker):
    with pytest.raises(InvalidInput) as refused:
        ask(member, maker, MAX_ADJUSTMENT + 1)
    assert "amount" in refused.value.fields
    assert not Adjustment.objects.exists()


def test_a_pending_adjustment_of_the_old_32_bit_maximum_can_be_approved(member, maker, staff_with):
    """Pending rows from before the bound existed: the 64-bit ledger takes them."""
    checker = staff_with("loyalty.approve_adjustment", username="checker")
    pending = Adjustment.objects.create(
        member=member,
        kind="points",
        amount=2_147_483_647,
        reason="migration",
        status="pending",
        batch="00000000-0000-0000-0000-000000000001",
        requested_by=maker,
    )
    approve_adjustments(adjustment_ids=[pending.pk], approver=checker)
    member.refresh_from_db()
    assert member.points_available == 2_147_483_647
    assert_ledger_consistent(member)


def test_the_admin_form_refuses_an_amount_beyond_the_bound(client, member, maker):
    client.force_login(maker)
    client.defaults["HTTP_HOST"] = "localhost"
    page = client.post(
        reverse("admin:members_member_adjust", args=[member.pk, "points"]),
        {"amount": "3000000000", "reason": "goodwill"},
    )
    assert page.status_code == 200
    assert page.context["form"].errors["amount"]
    assert not Adjustment.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("audited_afterwards")
def test_concurrent_requests_for_one_member_cannot_both_apply_under_the_limit(program, maker, configure_program):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real row locks between threads)")
    configure_program(approval_limit_points=1000)
    member = MemberFactory()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def one():
        try:
            barrier.wait()
            outcomes.append(ask(Member.objects.get(pk=member.pk), maker, 600).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    member.refresh_from_db()
    assert sorted(outcomes) == ["applied", "pending", "pending", "pending"]
    assert member.points_available == 600


# --- the approval limits themselves ---------------------------------------------------------------


def test_only_the_limit_permission_changes_a_limit(staff_with, configure_program):
    configure_program(approval_limit_points=1000)
    marketer = staff_with("loyalty.change_programsettings", username="marketer")
    with pytest.raises(NotPermitted):
        request_limit_change(kind="points", limit=100_000_000, requested_by=marketer)
    assert ProgramSettings.current().approval_limit_points == 1000


def test_the_settings_form_cannot_raise_a_limit(client, role_user, configure_program):
    configure_program(approval_limit_points=1000)
    client.force_login(role_user("Marketing"))
    client.defaults["HTTP_HOST"] = "localhost"
    url = reverse("admin:loyalty_programsettings_change", args=[1])
    form = client.get(url).context["adminform"].form
    assert "approval_limit_points" not in form.fields
    data = {name: form.initial.get(name, "") for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    client.post(url, {**data, "approval_limit_points": "100000000"})
    assert ProgramSettings.current().approval_limit_points == 1000


def test_lowering_applies_at_once_and_is_in_the_history(role_user, configure_program):
    configure_program(approval_limit_points=1000)
    accountant = role_user("Finance")
    change = request_limit_change(kind="points", limit=500, requested_by=accountant, note="tighter")
    assert (change.status, change.previous_limit, change.new_limit) == ("applied", 1000, 500)
    assert ProgramSettings.current().approval_limit_points == 500
    latest = ProgramSettings.history.order_by("-history_date").first()
    assert latest.approval_limit_points == 500


def test_a_raise_waits_for_a_second_person_with_the_permission(role_user, configure_program):
    configure_program(approval_limit_points=1000)
    first, second = role_user("Finance", "finance-1"), role_user("Finance", "finance-2")
    change = request_limit_change(kind="points", limit=5000, requested_by=first)
    assert change.status == "pending"
    assert ProgramSettings.current().approval_limit_points == 1000
    with pytest.raises(NotPermitted):
        approve_limit_change(change_id=change.pk, approver=first)
    with pytest.raises(NotPermitted):
        approve_limit_change(change_id=change.pk, approver=role_user("Operations"))
    approve_limit_change(change_id=change.pk, approver=second, note="ok for the sale")
    assert ProgramSettings.current().approval_limit_points == 5000
    with pytest.raises(AdjustmentNotPending):
        reject_limit_change(change_id=change.pk, approver=second)
    change.refresh_from_db()
    assert (change.status, change.decided_by, change.decision_note) == ("applied", second, "ok for the sale")


def test_raising_through_the_admin(client, role_user, configure_program):
    configure_program(approval_limit_growth=500)
    first, second = role_user("Finance", "finance-1"), role_user("Finance", "finance-2")
    client.defaults["HTTP_HOST"] = "localhost"
    client.force_login(first)
    response = client.post(
        reverse("admin:loyalty_approvallimitchange_add"), {"kind": "growth", "new_limit": "2000", "note": "promo"}
    )
    assert response.status_code == 302, response.content
    change = ApprovalLimitChange.objects.get()
    assert change.status == "pending" and ProgramSettings.current().approval_limit_growth == 500
    client.post(
        reverse("admin:loyalty_approvallimitchange_changelist"),
        {"action": "approve_limit_changes", "_selected_action": [change.pk]},
    )
    assert ProgramSettings.current().approval_limit_growth == 500, "not by the person who asked"
    client.force_login(second)
    client.post(
        reverse("admin:loyalty_approvallimitchange_changelist"),
        {"action": "approve_limit_changes", "_selected_action": [change.pk]},
    )
    assert ProgramSettings.current().approval_limit_growth == 2000


def test_support_and_marketing_cannot_reach_the_limit_pages(client, role_user):
    client.defaults["HTTP_HOST"] = "localhost"
    for role in ("Support", "Marketing", "Operations"):
        client.force_login(role_user(role))
        assert client.get(reverse("admin:loyalty_approvallimitchange_add")).status_code == 403
        assert (
            client.post(
                reverse("admin:loyalty_approvallimitchange_add"), {"kind": "points", "new_limit": "9", "note": ""}
            ).status_code
            == 403
        )
    assert not ApprovalLimitChange.objects.exists()
