"""Every admin action and custom admin view declares the permission it needs, and each staff role is
offered exactly the actions its job calls for. A new action without a permission, or a role granted
one it should not have, fails here."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import URLResolver, reverse

from campaigns.models import Segment
from rewards.models import CodePool
from tests.factories import MemberFactory, UserFactory
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db

# What each role may do from a changelist's action menu (besides nothing at all).
OFFERED = {
    "Operations": {
        ("members.Member", "adjust_points"),
        ("members.Member", "adjust_growth"),
        ("members.Member", "freeze"),
        ("members.Member", "unfreeze"),
        ("members.Member", "recalculate_tier"),
        ("rewards.Redemption", "mark_shipped"),
        ("rewards.Redemption", "mark_delivered"),
        ("rewards.Redemption", "cancel"),
        ("rewards.Coupon", "void"),
        ("rewards.PointsHold", "release"),
        ("loyalty.OutboxSubscriber", "retry_now"),
        ("members.Member", "add_tag"),
        ("members.Member", "remove_tag"),
        ("campaigns.Segment", "tag_everyone"),
    },
    "Marketing": {
        ("campaigns.Campaign", "publish"),
        ("campaigns.Campaign", "approve"),
        ("campaigns.Campaign", "decline"),
        ("campaigns.Campaign", "pause"),
        ("campaigns.Campaign", "resume"),
        ("campaigns.Campaign", "end"),
        ("campaigns.Campaign", "clone"),
        ("campaigns.Segment", "refresh_now"),
        ("campaigns.Segment", "tag_everyone"),
        ("members.Member", "add_tag"),
        ("members.Member", "remove_tag"),
    },
    "Finance": {
        ("loyalty.Adjustment", "approve"),
        ("loyalty.Adjustment", "reject"),
        ("loyalty.ApprovalLimitChange", "approve_limit_changes"),
        ("loyalty.ApprovalLimitChange", "reject_limit_changes"),
    },
    "Support": set(),
}


def test_every_admin_action_declares_its_permissions():
    undeclared = [
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        for function, name, _ in model_admin._get_base_actions()
        if not getattr(function, "allowed_permissions", None)
    ]
    assert undeclared == []


@pytest.mark.parametrize("role", sorted(OFFERED))
def test_each_role_is_offered_exactly_the_actions_of_its_job(role, role_user, program):
    request = RequestFactory().get("/admin/")
    request.user = role_user(role)
    offered = {
        (model._meta.label, name)
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_view_or_change_permission(request)
        for name in model_admin.get_actions(request)
    }
    assert offered == OFFERED[role]


def _custom_routes():
    standard = ("changelist", "add", "history", "delete", "change", "autocomplete")
    site_views = {
        "app_list",
        "index",
        "login",
        "logout",
        "password_change",
        "password_change_done",
        "jsi18n",
        "view_on_site",
        "documentation",  # docs/ pages: every staff member may read them (test_navigation_and_docs)
    }

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif pattern.name and pattern.name not in site_views and not pattern.name.endswith(standard):
                yield pattern

    return list(walk(admin.site.get_urls()))


ARGUMENTS = {
    "kind": "points",
    "change": "freeze",
    "slug": "distribution",
    "job": "expire_points",
    "mode": "run",
    "step_name": "anonymise",
}


def test_every_custom_admin_view_refuses_a_staff_member_without_its_permission(client, program):
    member, pool = MemberFactory(), CodePool.objects.create(code="p", name="P")
    segment = Segment.objects.create(code="s", name="S")
    endpoint = Endpoint.objects.create(url="https://hooks.example.com/", event_types=["*"])
    ids = {"member_id": member.pk, "pool_id": pool.pk, "segment_id": segment.pk, "endpoint_id": endpoint.pk}
    client.force_login(UserFactory(username="no-permissions"))
    client.defaults["HTTP_HOST"] = "localhost"
    routes = _custom_routes()
    assert len(routes) >= 20
    for pattern in routes:
        kwargs = {name: ids.get(name, ARGUMENTS.get(name)) for name in pattern.pattern.converters}
        url = reverse(f"admin:{pattern.name}", kwargs=kwargs)
        for method in ("get", "post"):
            status = getattr(client, method)(url).status_code
            assert status in (403, 405), (pattern.name, method, status)
    member.refresh_from_db()
    assert member.status == "active"
    endpoint.refresh_from_db()
    assert endpoint.status == "active" and not endpoint.secrets.exists() and not endpoint.deliveries.exists()
