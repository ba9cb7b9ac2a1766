"""Jobs from the admin: dry runs do the work and roll it back, runs start with a permission, progress
is readable as JSON."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.calculations import next_period_start
from loyalty.models import JobRun, PointsEntry, ProgramSettings
from loyalty.services.jobs import run_job_now
from tests.jobs_helpers import database_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def expiring(make_member, give_points):
    past = timezone.now() - timedelta(minutes=5)
    members = [make_member() for _ in range(3)]
    for member in members:
        lot = give_points(member, 40)
        PointsEntry.objects.filter(pk=lot.pk).update(expires_at=past)
    return members


def ledgers_and_members() -> dict:
    return {name: rows for name, rows in database_state().items() if not name.startswith("job_")}


def test_a_dry_run_counts_what_a_run_writes_and_writes_nothing(expiring):
    before = ledgers_and_members()
    dry = run_job_now(job="expire_points", dry_run=True, chunk_size=2)
    assert ledgers_and_members() == before
    assert (dry.status, dry.chunks_total, dry.members_changed, dry.entries_written) == ("done", 2, 3, 3)
    assert dry.summary == [
        {"code": "lots_to_expire", "params": {"ledger": "points", "amount": 120, "lots": 3, "members": 3}}
    ]
    assert dry.summary_lines == ["120 points in 3 lots of 3 members would expire."]
    with translation.override("zh-hans"):
        assert dry.summary_lines == ["3 位会员的 3 个批次共 120 积分将过期。"], "read in the reader's language"

    real = run_job_now(job="expire_points", chunk_size=2)
    assert (real.members_changed, real.entries_written) == (dry.members_changed, dry.entries_written)
    again = run_job_now(job="expire_points", dry_run=True)
    assert again.pk != dry.pk and again.members_changed == 0  # dry runs never block or reuse the period


def test_starting_needs_the_run_permission(client, staff_with, program):
    client.force_login(staff_with("loyalty.view_jobrun"))
    response = client.post(reverse("admin:jobrun_start", args=["expire_points", "dry-run"]))
    assert response.status_code == 403
    assert not JobRun.objects.exists()


def test_start_and_follow_a_dry_run(admin_client, expiring, monkeypatch):
    dispatched = []
    monkeypatch.setattr("loyalty.backoffice.jobs.dispatch_run", dispatched.append)  # the thread: browser test
    response = admin_client.post(reverse("admin:jobrun_start", args=["expire_points", "dry-run"]))
    run = JobRun.objects.get()
    assert response.status_code == 302 and run.dry_run
    assert dispatched == [run]
    assert admin_client.get(reverse("admin:jobrun_start", args=["expire_points", "run"])).status_code == 405
    progress = admin_client.get(reverse("admin:jobrun_progress") + f"?ids={run.pk}").json()
    assert progress["runs"][0]["id"] == run.pk
    assert set(progress["runs"][0]) >= {"status", "chunks_done", "chunks_total", "members_changed", "summary"}
    assert admin_client.get(reverse("admin:jobrun_progress") + "?ids=x").status_code == 400


def test_the_panel_names_each_job_and_offers_a_dry_run_of_its_next_period(admin_client, program, monkeypatch):
    monkeypatch.setattr("loyalty.backoffice.jobs.dispatch_run", lambda run: None)
    page = admin_client.get(reverse("admin:loyalty_jobrun_changelist"))
    recalculation = next(job for job in page.context["jobs"] if job["code"] == "recalculate_tiers")
    zone = ProgramSettings.current().zone
    first_of_next_month = next_period_start("%Y-%m", timezone.now(), zone)
    assert recalculation["next_period"] == first_of_next_month.strftime("%Y-%m-%dT%H:%M")
    assert str(recalculation["label"]) in page.content.decode() and str(recalculation["description"])

    response = admin_client.post(
        reverse("admin:jobrun_start", args=["recalculate_tiers", "dry-run"]),
        {"as_of": recalculation["next_period"]},
        follow=True,
    )

    run = JobRun.objects.get()
    assert run.dry_run and run.as_of == first_of_next_month
    assert run.period == first_of_next_month.strftime("%Y-%m")
    assert f"Dry run of “{run.label}” started." in [str(m) for m in response.context["messages"]]


@pytest.mark.parametrize("as_of", ["soon", "1999-01-01T00:00", "2999-01-01T00:00"])
def test_a_dry_run_refuses_a_moment_that_is_not_one_within_a_year(admin_client, program, as_of):
    response = admin_client.post(
        reverse("admin:jobrun_start", args=["expire_points", "dry-run"]), {"as_of": as_of}, follow=True
    )
    assert not JobRun.objects.exists()
    assert any("within a year" in str(m) for m in response.context["messages"])
