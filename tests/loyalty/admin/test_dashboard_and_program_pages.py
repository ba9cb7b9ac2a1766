"""The dashboard's figures on a hand-built program, and the configuration pages: tier what-if,
program file upload with its dry-run diff."""

import dataclasses
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Tier
from loyalty.selectors.dashboard import CACHE_KEY, compute_dashboard, dashboard
from loyalty.selectors.tier_whatif import preview_thresholds
from loyalty.services import spend_points
from tests.helpers import purchase

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_cached_dashboard():
    cache.clear()
    yield
    cache.clear()


def test_dashboard_figures(make_member, give_points, give_growth, configure_program):
    configure_program(point_value=Decimal("0.05"), pending_days=0)
    shopper, saver, idle = make_member(), make_member(), make_member()
    purchase(shopper, "100.00", occurred_at=timezone.now())  # the default rule: 1 growth and 1 point per yuan
    give_points(saver, 500, expires_at=timezone.now() + timedelta(days=45))
    give_growth(idle, 600)
    spend_points(member=saver, amount=200, reason="test", source="shop", reference="r1")

    figures = compute_dashboard()

    assert figures.members_total == 3
    assert figures.points_available == 100 + 300
    assert figures.liability == Decimal("20.00")  # 400 points × 0.05
    assert figures.points_earned_this_month == 100  # adjustments are not earning
    assert figures.points_spent_this_month == 200
    assert figures.growth_earned_this_month == 100
    assert {t.code: t.members for t in figures.pyramid} == {
        "normal": 2,
        "bronze": 1,
        "silver": 0,
        "gold": 0,
        "platinum": 0,
        "diamond": 0,
    }
    assert dict(figures.expiring) == {30: 0, 60: 300, 90: 300}
    assert figures.events_per_day[-1][1] == 1  # today's purchase, counted on the program's day


def test_the_page_reads_a_cached_snapshot(admin_client, make_member):
    make_member()
    first = dashboard()
    make_member()
    assert dashboard().members_total == first.members_total == 1
    page = admin_client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert page.context["dashboard"].members_total == 1
    admin_client.post(reverse("admin:dashboard_refresh"))
    assert dashboard().members_total == 2


def test_a_snapshot_older_than_the_schedule_allows_is_recomputed(admin_client, make_member):
    """With no scheduler refreshing it (the demo), the page must not show old figures as current."""
    make_member()
    old = dataclasses.replace(dashboard(), computed_at=timezone.now() - timedelta(minutes=7))
    cache.set(CACHE_KEY, old)
    make_member()

    page = admin_client.get(reverse("admin:index"))

    assert page.context["dashboard"].members_total == 2
    assert timezone.now() - page.context["dashboard"].computed_at < timedelta(minutes=1)
    assert "0\xa0minutes ago" in page.content.decode() or "0 minutes ago" in page.content.decode()


def test_what_if_counts_moves_per_downgrade_policy(make_member, give_growth, configure_program, tiers):
    configure_program(downgrade_policy="one_tier")
    at_600 = give_growth(make_member(), 600)  # bronze
    at_2500 = give_growth(make_member(), 2500)  # silver
    make_member()  # normal, 0

    preview = preview_thresholds(thresholds={"bronze": 100, "silver": 3000})

    moves = {(m.source.code, m.target.code): m.members for m in preview.caused}
    assert moves == {("silver", "bronze"): 1}  # 2500 < 3000: one tier down; 600 stays bronze
    assert dict((t.code, n) for t, n in preview.edited)["bronze"] == 2
    assert Tier.objects.get(code="silver").threshold == 2000  # nothing written
    assert at_600.tier.code == "bronze" and at_2500.tier.code == "silver"

    configure_program(downgrade_policy="never")
    assert preview_thresholds(thresholds={"silver": 3000}).caused == []


def test_what_if_keeps_the_edits_moves_apart_from_the_pending_ones(make_member, give_growth, configure_program, tiers):
    """A member whose growth fell below their tier moves at the next recalculation whatever the
    edit: that is pending, not caused by the edit."""
    configure_program(downgrade_policy="one_tier")
    fallen = give_growth(give_growth(make_member(), 2500), -2000)  # silver, now 500: bronze next
    near_gold = give_growth(make_member(), 5500)  # silver

    unchanged = preview_thresholds(thresholds={})
    assert fallen.tier.code == "silver"
    assert unchanged.caused == []
    assert [(m.source.code, m.target.code, m.members) for m in unchanged.pending] == [("silver", "bronze", 1)]

    lowered = preview_thresholds(thresholds={"gold": 5000})  # near_gold qualifies; fallen is unrelated
    assert [(m.source.code, m.target.code, m.members) for m in lowered.caused] == [("silver", "gold", 1)]
    assert [(m.source.code, m.target.code, m.members) for m in lowered.pending] == [("silver", "bronze", 1)]
    assert {t.code: (now, configured, edited) for t, now, configured, edited in lowered.pyramid}["gold"] == (0, 0, 1)
    assert near_gold.tier.code == "silver"


def test_what_if_refuses_an_invalid_ladder_at_preview_as_apply_does(admin_client, program, tiers):
    url = reverse("admin:loyalty_tier_whatif")
    values = {t.code: t.threshold for t in tiers.values()}
    bad = {**values, "silver": "100"}  # below bronze (500)

    preview = admin_client.post(url, {**bad, "step": "preview"})
    applied = admin_client.post(url, {**bad, "step": "apply"})

    assert preview.context["preview"] is None
    errors = preview.context["form"].non_field_errors()
    assert errors and "Thresholds must ascend" in errors[0]
    assert list(applied.context["form"].non_field_errors()) == list(errors)
    assert Tier.objects.get(code="silver").threshold == 2000


def test_what_if_page_previews_then_applies(admin_client, program, tiers):
    url = reverse("admin:loyalty_tier_whatif")
    values = {t.code: t.threshold for t in tiers.values()}
    preview = admin_client.post(url, {**values, "gold": "7000", "step": "preview"})
    assert preview.status_code == 200 and preview.context["preview"] is not None
    assert Tier.objects.get(code="gold").threshold == 6000
    applied = admin_client.post(url, {**values, "gold": "7000", "step": "apply"})
    assert applied.status_code == 302
    assert Tier.objects.get(code="gold").threshold == 7000


def test_what_if_page_refuses_a_ladder_that_does_not_climb(admin_client, program, tiers):
    values = {t.code: t.threshold for t in tiers.values()}
    response = admin_client.post(reverse("admin:loyalty_tier_whatif"), {**values, "gold": "100", "step": "apply"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Tier.objects.get(code="gold").threshold == 6000


def test_what_if_takes_thresholds_from_the_url(admin_client, program):
    response = admin_client.get(reverse("admin:loyalty_tier_whatif") + "?threshold_gold=6500")
    assert response.context["form"]["gold"].initial == 6500


def test_program_file_upload_shows_the_diff_then_applies(admin_client, program):
    exported = json.loads(admin_client.get(reverse("admin:loyalty_program_export")).content)
    exported["settings"]["pending_days"] = 9
    upload = SimpleUploadedFile("program.json", json.dumps(exported).encode(), content_type="application/json")
    url = reverse("admin:loyalty_program_file")
    preview = admin_client.post(url, {"file": upload, "step": "preview"})
    assert preview.context["changes"] == ["settings: pending_days 0 -> 9"]
    assert program.__class__.current().pending_days == 0
    admin_client.post(url, {"document": preview.context["document"], "step": "apply"})
    assert program.__class__.current().pending_days == 9


def test_program_file_errors_are_listed_by_path(admin_client, program):
    upload = SimpleUploadedFile("program.json", b'{"tiers": [{"code": "x"}]}')
    response = admin_client.post(reverse("admin:loyalty_program_file"), {"file": upload, "step": "preview"})
    assert any(error.startswith("tiers[0]") for error in response.context["errors"])
    bad_json = SimpleUploadedFile("program.json", b"{not json")
    response = admin_client.post(reverse("admin:loyalty_program_file"), {"file": bad_json, "step": "preview"})
    assert "Not valid JSON" in response.context["errors"][0]
