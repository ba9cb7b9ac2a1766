"""The dashboard lists the screens by task with the plumbing folded away; lists are titled by what
they list; the documentation is read inside the admin; the header links the API documentation."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_dashboard_groups_screens_by_task_with_system_last_and_folded(admin_client, program):
    page = admin_client.get(reverse("admin:index"))
    groups = {group.key: [link.name for link in group.links] for group in page.context["task_groups"]}

    assert list(groups)[:3] == ["members", "program", "mall"] and list(groups)[-1] == "system"
    assert "Members" in groups["members"] and "Tiers" in groups["program"] and "Rewards" in groups["mall"]
    assert "Access attempts" in groups["system"] and "Crontabs" in groups["system"]
    assert not [name for key, names in groups.items() if key != "system" for name in names if "Crontab" in name]
    html = page.content.decode()
    assert re.search(r'<details class="module task-group task-group-system">', html)
    assert "View site" not in html and reverse("api-docs") in html


def test_lists_are_titled_by_what_they_list(admin_client, program):
    html = admin_client.get(reverse("admin:members_member_changelist")).content.decode()

    assert "<h1>Members</h1>" in html and "Select member to change" not in html


def test_the_documentation_is_read_in_the_admin_with_links_between_pages(admin_client, program):
    url = reverse("admin:documentation", args=["seed-method"])
    html = admin_client.get(url).content.decode()

    assert "<h1>Designing and checking a program" in html
    assert f'href="{reverse("admin:documentation", args=["analytics"])}"' in html  # analytics.md, in the admin
    assert "<table>" in admin_client.get(reverse("admin:documentation", args=["admin"])).content.decode()
    assert admin_client.get(reverse("admin:documentation", args=["nope"])).status_code == 404
    assert admin_client.get("/admin/documentation/..%2Fpyproject/").status_code == 404
    assert Client().get(url).status_code == 302  # staff only: to the login page
    index = admin_client.get(reverse("admin:program_design")).content.decode()
    assert url in index and "docs/seed-method.md" not in index
    assert index.count(reverse("admin:program_design_report", args=["calibration"])) == 1
