"""Every custom admin view checks its permission on the server, for GET and POST alike."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.models import Adjustment, JobRun, ProgramSettings, Tier
from loyalty.services.adjustments import request_adjustment

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client, staff_with):
    """Support-like: may look at everything, change nothing."""
    client.force_login(
        staff_with(
            "loyalty.view_tier",
            "loyalty.view_programsettings",
            "loyalty.view_jobrun",
            "loyalty.view_adjustment",
            "members.view_member",
        )
    )
    return client


def test_the_what_if_page_needs_the_change_tier_permission(viewer_client, tiers):
    url = reverse("admin:loyalty_tier_whatif")
    assert viewer_client.get(url).status_code == 403
    values = {t.code: t.threshold for t in tiers.values()}
    assert viewer_client.post(url, {**values, "gold": "7000", "step": "apply"}).status_code == 403
    assert Tier.objects.get(code="gold").threshold == 6000


def test_the_program_file_import_needs_the_change_permission_but_export_only_view(viewer_client, program):
    assert viewer_client.get(reverse("admin:loyalty_program_export")).status_code == 200
    document = json.dumps({"settings": {"pending_days": 5}}).encode()
    url = reverse("admin:loyalty_program_file")
    response = viewer_client.post(url, {"file": SimpleUploadedFile("p.json", document), "step": "preview"})
    assert response.status_code == 403
    assert viewer_client.post(url, {"document": document.decode(), "step": "apply"}).status_code == 403
    assert ProgramSettings.current().pending_days == 0


def test_approving_is_not_offered_or_accepted_without_the_permission(
    viewer_client, member, staff_with, configure_program
):
    configure_program(approval_limit_points=1)
    adjustment = request_adjustment(
        member=member, kind="points", amount=50, reason="goodwill", requested_by=staff_with("loyalty.adjust_points")
    )
    url = reverse("admin:loyalty_adjustment_changelist")
    page = viewer_client.get(url)
    assert "approve" not in dict(page.context["cl"].model_admin.get_action_choices(page.wsgi_request))
    viewer_client.post(url, {"action": "approve", "_selected_action": [adjustment.pk]})
    adjustment.refresh_from_db()
    assert adjustment.status == Adjustment.Status.PENDING


def test_job_progress_needs_the_view_permission(client, staff_with, program):
    run = JobRun.objects.create(job="expire_points", period="2026-11-26", as_of="2026-11-26T00:00Z")
    client.force_login(staff_with("members.view_member"))
    assert client.get(reverse("admin:jobrun_progress") + f"?ids={run.pk}").status_code == 403


def test_the_admin_refuses_anyone_who_is_not_staff(client, django_user_model, program):
    client.force_login(django_user_model.objects.create_user("shopper", password="x"))
    for url in (reverse("admin:index"), reverse("admin:loyalty_tier_whatif"), reverse("admin:jobrun_progress")):
        assert client.get(url).status_code == 302  # to the login page
    assert client.post(reverse("admin:dashboard_refresh")).status_code == 302
