"""The member pages: indexed search, no per-row queries, adjustments through forms that check
permissions on every request, and actions that call the services."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.models import Adjustment, TierChange
from members.models import Member
from members.selectors import estimated_count, search_members
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(program):
    return [
        MemberFactory(external_id="ext-1", name="Zhang Wei", phone="13800000001", email="Wei@Example.com"),
        MemberFactory(external_id="ext-2", name="Zhao Li", phone="13800000002", email="li@example.com"),
        MemberFactory(external_id="13800000001x", name="Wang Fang", phone="", email=""),
    ]


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("13800000001", ["ext-1"]),  # a phone number, exactly
        ("1380000000", []),  # not a prefix: every branch is an index lookup
        ("wei@example.COM", ["ext-1"]),  # email, case-insensitive
        ("ext-2", ["ext-2"]),  # external id
        ("zha", ["ext-1", "ext-2"]),  # the start of a name, case-insensitive
        ("13800000001x", ["13800000001x"]),
        ("Fang", []),  # names match from their start only
    ],
)
def test_member_search(people, term, found):
    assert sorted(search_members(Member.objects.all(), term).values_list("external_id", flat=True)) == found


def test_a_filtered_count_is_exact_below_the_cap(people):
    assert estimated_count(Member.objects.filter(name__startswith="Zh")) == 2


def changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:members_member_changelist")).status_code == 200
    return len(queries)


def test_the_changelist_does_not_query_per_row(admin_client, program):
    MemberFactory.create_batch(3)
    changelist_queries(admin_client)  # the first view also loads the program's config cache
    few = changelist_queries(admin_client)
    MemberFactory.create_batch(30)
    assert changelist_queries(admin_client) == few


def member_page_queries(client, member) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:members_member_change", args=[member.pk])).status_code == 200
    return len(queries)


def test_the_member_page_does_not_query_per_row(admin_client, member, give_points, give_growth):
    give_points(member, 10)
    give_growth(member, 10)
    member_page_queries(admin_client, member)  # the first view also loads the program's config cache
    few = member_page_queries(admin_client, member)
    for _ in range(8):
        give_points(member, 10)
        give_growth(member, 10)
    assert member_page_queries(admin_client, member) == few


def test_the_member_page_shows_balances_progress_and_ledgers(admin_client, member, give_points, give_growth):
    give_points(member, 1234)
    give_growth(member, 300)
    page = admin_client.get(reverse("admin:members_member_change", args=[member.pk])).content.decode()
    assert "1,234" in page
    assert "200 more to" in page  # bronze at 500
    assert f"?member={member.pk}" in page  # links to the full, filtered ledgers


def test_the_full_ledger_filters_by_member(admin_client, make_member, give_points):
    mine, other = make_member(), make_member()
    give_points(mine, 7)
    give_points(other, 9)
    response = admin_client.get(reverse("admin:loyalty_pointsentry_changelist") + f"?member={mine.pk}")
    assert response.status_code == 200
    assert [e.member_id for e in response.context["cl"].result_list] == [mine.pk]


def test_profile_edits_go_through_the_same_validation_as_the_api(admin_client, member):
    url = reverse("admin:members_member_change", args=[member.pk])
    response = admin_client.post(url, {"name": "  New Name ", "email": "new@example.com", "phone": "1", "birthday": ""})
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.name, member.email) == ("New Name", "new@example.com")


def test_the_adjust_form_applies_through_the_service(admin_client, member):
    url = reverse("admin:members_member_adjust", args=[member.pk, "points"])
    response = admin_client.post(url, {"amount": "250", "reason": "goodwill", "note": "sorry"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.points_available == 250
    assert Adjustment.objects.get().points_entry.reason == "Goodwill gesture: sorry"


def test_the_adjust_form_shows_refusals_as_form_errors(admin_client, member):
    url = reverse("admin:members_member_adjust", args=[member.pk, "points"])
    response = admin_client.post(url, {"amount": "-5", "reason": "correction"})
    assert response.status_code == 200
    assert "has 0 points available" in response.content.decode()
    assert not Adjustment.objects.exists()


def test_without_the_permission_the_form_is_refused_on_get_and_post(client, member, staff_with):
    client.force_login(staff_with("members.view_member", "members.change_member"))
    url = reverse("admin:members_member_adjust", args=[member.pk, "points"])
    assert client.get(url).status_code == 403
    assert client.post(url, {"amount": "5", "reason": "goodwill"}).status_code == 403
    member.refresh_from_db()
    assert member.points_available == 0


def test_the_bulk_action_previews_the_total_then_applies(admin_client, make_member, configure_program):
    configure_program(approval_limit_points=10_000)
    members = [make_member() for _ in range(3)]
    url = reverse("admin:members_member_changelist")
    base = {
        "action": "adjust_points",
        "_selected_action": [m.pk for m in members],
        "amount": "100",
        "reason": "goodwill",
    }
    first = admin_client.post(url, {k: v for k, v in base.items() if k not in ("amount", "reason")})
    assert first.status_code == 200 and "adjust-bulk-form" in first.content.decode()
    preview = admin_client.post(url, {**base, "step": "preview"})
    assert "+300 in all" in preview.content.decode()
    assert not Adjustment.objects.exists()
    assert admin_client.post(url, {**base, "step": "confirm"}).status_code == 302
    assert sorted(Member.objects.filter(pk__in=[m.pk for m in members]).values_list("points_available", flat=True)) == [
        100,
        100,
        100,
    ]


def test_freeze_and_recalculate_from_the_member_page(admin_client, member, give_growth, configure_program, tiers):
    give_growth(member, 600)  # bronze on earning
    member.refresh_from_db()
    assert member.tier.code == "bronze"
    Member.objects.filter(pk=member.pk).update(growth_value=0)  # as if expired, before the monthly run
    configure_program(downgrade_policy="to_qualifying")
    admin_client.post(reverse("admin:members_member_recalculate", args=[member.pk]))
    member.refresh_from_db()
    assert member.tier.code == "normal"
    change = TierChange.objects.filter(member=member).first()
    assert (change.reason, change.period) == ("recalculation", "")
    admin_client.post(reverse("admin:members_member_status", args=[member.pk, "freeze"]))
    member.refresh_from_db()
    assert member.status == "frozen"


def test_freezing_needs_the_change_permission_even_on_post(client, member, staff_with):
    client.force_login(staff_with("members.view_member"))
    assert client.post(reverse("admin:members_member_status", args=[member.pk, "freeze"])).status_code == 403
    member.refresh_from_db()
    assert member.status == "active"
