"""Every changelist fits a laptop screen: at 1366×768 and 1440×900, in English and in Chinese, the
list's columns are all visible beside the filter sidebar — no sideways scrolling of the page or of
the table — on the demo's data, as an operator sees it; so do the other screens issue 17 changed.
Each page's screenshot is kept under artifacts/screenshots/layout-*."""

from __future__ import annotations

import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import Segment
from campaigns.services.segments import compute_version
from loyalty.models import JobRun
from loyalty.services.adjustments import request_adjustments
from members.models import Member
from tests.factories import UserFactory
from tests.helpers import ensure_default_program, ensure_staff_roles

PASSWORD = "a-long-test-password"
SCREENS = [(1366, 768), (1440, 900)]
LANGUAGES = ["en-US", "zh-CN"]

pytestmark = pytest.mark.django_db(transaction=True)

# How far the page and the results table reach past what is visible, in CSS pixels.
OVERFLOW = """() => {
    const results = document.querySelector('#changelist .results');
    const table = document.querySelector('#result_list');
    return {
        page: document.documentElement.scrollWidth - window.innerWidth,
        table: results && table ? table.scrollWidth - results.clientWidth : 0,
    };
}"""


@pytest.fixture
def demo_admin():
    ensure_default_program()
    ensure_staff_roles()
    call_command("demo", members=40, seed=9, no_server=True, stdout=io.StringIO())
    boss = UserFactory(username="boss", is_superuser=True)
    boss.set_password(PASSWORD)
    boss.save()
    members = list(Member.objects.order_by("-points_available")[:3])
    request_adjustments(
        kind="points",
        members=members,
        amount=50_000,
        reason="goodwill",
        note="VIP complaint, order 7731",
        requested_by=boss,
    )
    return boss


def logged_in(browser, live_server, width: int, height: int, language: str):
    """A browser context of that size and language, logged in to the admin as the demo's boss."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale=language)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    return context, page


def changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    )


def other_screens() -> list[str]:
    """The screens issue 17 changed besides the lists: the dashboard, a member's page and its
    confirmation steps, a redemption, a job run, the program design index."""
    member = Member.objects.filter(redemptions__isnull=False).order_by("pk").first()
    return [
        reverse("admin:index"),
        reverse("admin:members_member_change", args=[member.pk]),
        reverse("admin:members_member_step", args=[member.pk, "close"]),
        reverse("admin:members_member_step", args=[member.pk, "anonymise"]),
        reverse("admin:rewards_redemption_change", args=[member.redemptions.first().pk]),
        reverse("admin:loyalty_jobrun_change", args=[JobRun.objects.order_by("pk").first().pk]),
        reverse("admin:program_design"),
        reverse("admin:campaigns_segment_definition", args=[Segment.objects.get(code="gold-plus").pk]),
        reverse("admin:campaigns_campaign_add"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("width", "height"), SCREENS)
def test_every_changelist_fits_the_screen(browser, live_server, shoot, demo_admin, width, height, language):
    context, page = logged_in(browser, live_server, width, height, language)
    overflowing = {}
    for url in changelists() + other_screens():
        page.goto(f"{live_server.url}{url}")
        reach = page.evaluate(OVERFLOW)
        shoot(page, f"layout-{width}-{language}-{url.strip('/').replace('/', '-') or 'index'}")
        if reach["page"] > 0 or reach["table"] > 0:
            overflowing[url] = reach
    context.close()

    assert overflowing == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_segment_definition_is_previewed_then_saved_and_its_computation_followed(
    browser, live_server, shoot, demo_admin, language, monkeypatch
):
    dispatched = []
    monkeypatch.setattr("campaigns.admin.dispatch_computation", dispatched.append)  # the worker: this test
    context, page = logged_in(browser, live_server, 1366, 768, language)
    segment = Segment.objects.get(code="gold-plus")
    page.goto(f"{live_server.url}{reverse('admin:campaigns_segment_definition', args=[segment.pk])}")
    page.fill("#id_definition", '{"tier": {"at_least": "silver"}}')
    page.click("button[value=preview]")
    preview = page.locator("#definition-preview")
    preview.wait_for()
    shoot(page, f"segment-preview-{language}")
    assert page.evaluate(OVERFLOW)["page"] <= 0
    assert Segment.objects.get(code="gold-plus").current_version.number == 1, "a preview saves nothing"

    page.click("button[value=save]")
    page.locator("#segment-computation").wait_for()
    shoot(page, f"segment-computing-{language}")
    assert page.evaluate(OVERFLOW)["page"] <= 0
    (version_id,) = dispatched
    compute_version(version_id=version_id)
    heading = page.locator("#segment-computation [data-field=heading]")
    page.locator("#segment-computation [data-field=note]").wait_for(state="hidden")  # done: the heading says so
    expected = Segment.objects.get(code="gold-plus").current_version
    assert expected.number == 2
    assert f"{expected.member_count:,}" in heading.inner_text() and "2" in heading.inner_text()
    shoot(page, f"segment-computed-{language}")
    context.close()
