"""The four staff roles (groups made by migration loyalty 0013), each logged in as a staff member of
that group only: what the admin lets them see and change, and what the services let them do."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.urls import reverse

from loyalty.models import Adjustment, Tier
from loyalty.services.adjustments import approve_adjustments, request_adjustment
from members.errors import NotPermitted
from members.models import Member
from tests.factories import MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = importlib.import_module("loyalty.migrations.0013_staff_roles")
LEDGERS = ["loyalty_pointsentry", "loyalty_growthentry", "loyalty_event", "loyalty_tierchange"]


@pytest.fixture
def staff_in(client, program):
    """staff_in("Finance") -> a staff user whose only permissions are the group's, logged in."""

    def login(role: str):
        user = UserFactory(username=role.lower())
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        client.defaults["HTTP_HOST"] = "localhost"
        return get_user_model().objects.get(pk=user.pk)

    return login


def changelists(client, *admin_names: str) -> dict[str, int]:
    return {name: client.get(reverse(f"admin:{name}_changelist")).status_code for name in admin_names}


def freeze(client, member: Member) -> Member:
    client.post(reverse("admin:members_member_changelist"), {"action": "freeze", "_selected_action": [member.pk]})
    member.refresh_from_db()
    return member


def adjust(user, member: Member, amount: int) -> Adjustment:
    return request_adjustment(member=member, kind="points", amount=amount, reason="goodwill", requested_by=user)


def tier_form(tier: Tier, **changes) -> dict:
    fields = ("code", "name", "rank", "threshold", "points_multiplier", "description")
    return {**{name: getattr(tier, name) for name in fields}, **changes}


def test_operations_look_after_members_and_adjust_up_to_the_approval_limit(staff_in, client, tiers):
    operator = staff_in("Operations")
    member, other = MemberFactory(), MemberFactory()

    assert set(changelists(client, "members_member", *LEDGERS, "loyalty_jobrun").values()) == {200}
    assert set(changelists(client, "rewards_reward", "loyalty_tier", "loyalty_earningrule").values()) == {403}
    assert (
        client.post(
            reverse("admin:loyalty_tier_change", args=[tiers["gold"].pk]), tier_form(tiers["gold"], threshold=6500)
        ).status_code
        == 403
    )
    assert client.get(reverse("admin:members_member_export")).status_code == 403
    assert freeze(client, member).status == Member.Status.FROZEN

    assert adjust(operator, other, 100).status == Adjustment.Status.APPLIED
    large = adjust(operator, other, 5_000)
    assert large.status == Adjustment.Status.PENDING
    with pytest.raises(NotPermitted):
        approve_adjustments(adjustment_ids=[large.pk], approver=operator)
    other.refresh_from_db()
    assert other.points_available == 100


def test_marketing_edits_the_program_and_the_catalog_but_not_members_or_balances(staff_in, client, tiers):
    marketer = staff_in("Marketing")
    member = MemberFactory()
    config = ["loyalty_tier", "loyalty_earningrule", "loyalty_eventtype", "loyalty_programsettings"]
    catalog = ["rewards_reward", "rewards_coupontemplate", "rewards_codepool", "rewards_benefit"]

    assert set(changelists(client, *config, *catalog, "members_member").values()) == {200}
    assert set(changelists(client, *LEDGERS, "loyalty_jobrun", "rewards_redemption").values()) == {403}
    gold = tiers["gold"]
    thresholds = {tier.code: tier.threshold for tier in tiers.values()}
    applied = client.post(reverse("admin:loyalty_tier_whatif"), {**thresholds, "gold": "6500", "step": "apply"})
    assert applied.status_code == 302
    assert Tier.objects.get(pk=gold.pk).threshold == 6500
    assert client.post(reverse("admin:loyalty_tier_delete", args=[gold.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:rewards_reward_import")).status_code == 200
    assert client.get(reverse("admin:members_member_import")).status_code == 403
    assert client.get(reverse("admin:members_member_export")).status_code == 403

    assert freeze(client, member).status == Member.Status.ACTIVE
    with pytest.raises(NotPermitted):
        adjust(marketer, member, 100)


def test_finance_sees_everything_exports_and_approves_but_changes_nothing(staff_in, client, tiers):
    operator = UserFactory()
    operator.groups.add(Group.objects.get(name="Operations"))
    member = MemberFactory(external_id="m-1")
    pending = adjust(get_user_model().objects.get(pk=operator.pk), member, 5_000)
    accountant = staff_in("Finance")

    seen = ["members_member", *LEDGERS, "loyalty_jobrun", "loyalty_tier", "rewards_reward", "rewards_redemption"]
    assert set(changelists(client, *seen).values()) == {200}
    assert client.post(reverse("admin:members_member_change", args=[member.pk]), {"name": "x"}).status_code == 403
    gold = tiers["gold"]
    assert (
        client.post(reverse("admin:loyalty_tier_change", args=[gold.pk]), tier_form(gold, threshold=6500)).status_code
        == 403
    )
    assert client.get(reverse("admin:members_member_export")).status_code == 200
    assert client.get(reverse("admin:loyalty_pointsentry_export")).status_code == 200
    assert client.get(reverse("admin:members_member_import")).status_code == 403
    assert freeze(client, member).status == Member.Status.ACTIVE

    approve_adjustments(adjustment_ids=[pending.pk], approver=accountant)
    member.refresh_from_db()
    assert member.points_available == 5_000
    with pytest.raises(NotPermitted):
        adjust(accountant, member, 100)


def test_support_only_looks(staff_in, client, tiers):
    helper = staff_in("Support")
    member = MemberFactory()

    seen = ["members_member", *LEDGERS, "rewards_redemption", "rewards_coupon"]
    assert set(changelists(client, *seen).values()) == {200}
    assert set(changelists(client, "rewards_reward", "loyalty_tier", "loyalty_jobrun").values()) == {403}
    assert client.get(reverse("admin:members_member_change", args=[member.pk])).status_code == 200
    assert client.post(reverse("admin:members_member_change", args=[member.pk]), {"name": "x"}).status_code == 403
    assert client.get(reverse("admin:members_member_export")).status_code == 403
    assert client.get(reverse("admin:loyalty_pointsentry_export")).status_code == 403
    assert freeze(client, member).status == Member.Status.ACTIVE
    with pytest.raises(NotPermitted):
        adjust(helper, member, 100)


def test_the_roles_migration_runs_again_keeping_additions_and_its_reverse_removes_the_groups(db):
    schema_editor = SimpleNamespace(connection=connection)
    support = Group.objects.get(name="Support")
    extra = Permission.objects.get(codename="view_pointshold")
    support.permissions.add(extra)
    granted = {group.name: set(group.permissions.all()) for group in Group.objects.all()}

    ROLES.create_roles(apps, schema_editor)
    assert {group.name: set(group.permissions.all()) for group in Group.objects.all()} == granted

    ROLES.remove_roles(apps, schema_editor)
    assert not Group.objects.filter(name__in=["Operations", "Marketing", "Finance", "Support"]).exists()

    ROLES.create_roles(apps, schema_editor)
    # Migrations 0021's and 0024's grants and notifications 0002's, not this one's.
    later = set(
        Permission.objects.filter(
            codename__in=[
                "view_domainevent",
                "view_membernote",
                "add_membernote",
                "view_notification",
                "view_notificationsettings",
            ]
        )
    )
    assert set(Group.objects.get(name="Support").permissions.all()) == granted["Support"] - {extra} - later


def test_the_operations_screens_per_role(staff_in, client, tiers, configure_program):
    """The admin's own screens: adjust (Operations), approve (Finance), what-if (Marketing), dry runs
    (Operations); everyone else is refused on the server."""
    configure_program(approval_limit_points=100)
    member = MemberFactory()
    adjust = reverse("admin:members_member_adjust", args=[member.pk, "points"])
    whatif = reverse("admin:loyalty_tier_whatif")
    dry_run = reverse("admin:jobrun_start", args=["expire_points", "dry-run"])

    staff_in("Operations")
    assert client.post(adjust, {"amount": "500", "reason": "goodwill"}).status_code == 302
    assert client.get(whatif).status_code == 403
    assert client.post(reverse("admin:members_member_status", args=[member.pk, "freeze"])).status_code == 302
    pending = Adjustment.objects.get()
    assert pending.status == "pending"

    staff_in("Support")
    assert client.get(adjust).status_code == 403
    assert client.post(dry_run).status_code == 403
    assert client.post(reverse("admin:members_member_status", args=[member.pk, "unfreeze"])).status_code == 403

    staff_in("Marketing")
    assert client.get(whatif).status_code == 200
    assert client.post(adjust, {"amount": "5", "reason": "goodwill"}).status_code == 403

    staff_in("Finance")
    assert client.get(adjust).status_code == 403
    client.post(
        reverse("admin:loyalty_adjustment_changelist"),
        {"action": "approve", "_selected_action": [pending.pk], "post": "yes"},
    )
    pending.refresh_from_db()
    member.refresh_from_db()
    assert (pending.status, member.points_available, member.status) == ("applied", 500, "frozen")
