from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.analytics.forecast import median_of_counts
from loyalty.analytics.report import economics_report, forecast_report, weights_report
from loyalty.analytics.selectors import economics as economics_reads
from loyalty.analytics.selectors.summaries import SUMMARY_JOB, latest_summary_run
from loyalty.models import (
    ClimbSummary,
    Event,
    JobRun,
    PointsFlowSummary,
    ProgramSettings,
    RuleUseSummary,
    SpendSummary,
    TierSizeSummary,
)
from loyalty.services import expire_points
from loyalty.services.jobs import run_job_now
from members.services import close_member
from tests.factories import MemberFactory
from tests.helpers import purchase, record, refund


def test_median_of_counts_is_the_middle_value_or_the_mean_of_the_two_middle_ones():
    assert median_of_counts([(30, 1), (10, 1), (50, 1)]) == 30
    assert median_of_counts([(10, 1), (54, 1)]) == 32
    assert median_of_counts([(7, 3), (100, 1)]) == 7  # 7, 7, 7, 100
    assert median_of_counts([(1, 2), (9, 2)]) == 5  # 1, 1, 9, 9
    assert median_of_counts([(3, 1), (4, 1), (5, 0)]) == Decimal("3.5")
    assert median_of_counts([]) is None


@pytest.fixture
def history(program, give_points):
    """Purchases and a return over the last four months, an expiry and upgrades, for six members."""
    now = timezone.now()
    members = [MemberFactory(joined_at=now - timedelta(days=200 + 10 * n)) for n in range(6)]
    for n, member in enumerate(members):
        for months_ago in range(n % 4 + 1):
            purchase(member, f"{300 + 100 * n}", occurred_at=now - timedelta(days=30 * months_ago + 2))
    purchase(members[0], "80", order_id="returned", occurred_at=now - timedelta(days=40))
    refund(members[0], "returned", "30", occurred_at=now - timedelta(days=39))
    give_points(members[1], 250, expires_at=now - timedelta(days=1))
    expire_points(member=members[1], as_of=now)
    return members


def report_figures(as_of):
    economics = economics_report(as_of)
    forecast = forecast_report(None, as_of)
    zone = ProgramSettings.current().zone
    since = as_of - timedelta(days=400)
    return {
        "months": economics.months,
        "spend": economics_reads.spend_by_tier(since, zone, latest_summary_run(as_of)),
        "climb": (forecast.observed_median_days, forecast.observed_members),
    }


def summarise(as_of, chunk_size=2) -> JobRun:
    run = run_job_now(job=SUMMARY_JOB, as_of=as_of, chunk_size=chunk_size)
    assert run.status == JobRun.Status.DONE
    return run


@pytest.mark.django_db
def test_the_report_from_a_summary_run_equals_the_report_from_the_ledgers(history):
    as_of = timezone.now()
    from_ledgers = report_figures(as_of)
    assert sum(month.earned for month in from_ledgers["months"]) > 0
    assert any(median is not None for median in from_ledgers["climb"][0].values())

    run = summarise(as_of)

    assert run.chunks_total == 3
    assert ClimbSummary.objects.exists() and PointsFlowSummary.objects.exists() and SpendSummary.objects.exists()
    assert latest_summary_run(as_of) == run
    assert report_figures(as_of) == from_ledgers
    assert forecast_report(None, as_of + timedelta(hours=1)).observed_as_of == run.as_of


@pytest.mark.django_db
def test_what_is_recorded_after_the_run_is_added_once_even_when_it_happened_months_before(history):
    run = summarise(timezone.now())
    late = timezone.now()
    purchase(history[2], "1000", occurred_at=late - timedelta(minutes=5))
    purchase(history[3], "700", occurred_at=late - timedelta(days=62))  # delivered two months late
    as_of = timezone.now()
    with_run = report_figures(as_of)

    JobRun.objects.filter(pk=run.pk).update(status=JobRun.Status.FAILED)  # the report now reads the ledgers
    assert latest_summary_run(as_of) is None
    from_ledgers = report_figures(as_of)
    assert with_run["months"] == from_ledgers["months"]
    assert with_run["spend"] == from_ledgers["spend"]


@pytest.mark.django_db
def test_the_climb_is_as_of_the_latest_run_and_a_finished_run_prunes_the_runs_before_it(history, give_growth):
    first = summarise(timezone.now() - timedelta(days=1))
    climbed = report_figures(timezone.now())["climb"]
    give_growth(MemberFactory(joined_at=timezone.now() - timedelta(days=3)), 100_000)  # to the top tier
    assert report_figures(timezone.now())["climb"] == climbed  # not until the next run

    second = summarise(timezone.now())

    members_after = report_figures(timezone.now())["climb"][1]
    assert sum(members_after.values()) > sum(climbed[1].values())
    assert not ClimbSummary.objects.filter(chunk__run=first).exists()
    assert not PointsFlowSummary.objects.filter(chunk__run=first).exists()
    assert not TierSizeSummary.objects.filter(chunk__run=first).exists()
    assert not RuleUseSummary.objects.filter(chunk__run=first).exists()
    assert RuleUseSummary.objects.filter(chunk__run=second).exists()  # the purchases' rule hits
    assert TierSizeSummary.objects.filter(chunk__run=second).exists()
    assert SpendSummary.objects.filter(chunk__run=second).exists()
    assert latest_summary_run(second.as_of - timedelta(minutes=1)) is None  # an earlier report: the ledgers


@pytest.mark.django_db
def test_a_dry_run_stores_nothing(history):
    run = run_job_now(job=SUMMARY_JOB, as_of=timezone.now(), chunk_size=2, dry_run=True)
    assert run.status == JobRun.Status.DONE and run.entries_written > 0
    assert not ClimbSummary.objects.exists() and not PointsFlowSummary.objects.exists()
    assert not TierSizeSummary.objects.exists() and not RuleUseSummary.objects.exists()
    assert latest_summary_run(timezone.now()) is None


@pytest.fixture
def rule_hits(tiers, give_growth, as_of):
    """Check-ins and reviews in and around the 90 days before as_of's day, by normal, bronze and
    closed members."""
    normal_a, normal_b, bronze = MemberFactory(), MemberFactory(), give_growth(MemberFactory(), 600)
    closed = MemberFactory()
    for days in (1, 2, 90):
        record(normal_a, "check_in", occurred_at=as_of - timedelta(days=days))
    record(normal_a, "review", occurred_at=as_of - timedelta(days=1))
    record(bronze, "check_in", occurred_at=as_of - timedelta(days=3))
    record(closed, "check_in", occurred_at=as_of - timedelta(days=3))
    close_member(member=closed)
    record(normal_b, "check_in", occurred_at=as_of - timedelta(days=95))  # before the period
    return {"normal_b": normal_b, "bronze": bronze}


def matrix_figures(report):
    return report.first_day, report.last_day, report.matrix


@pytest.mark.django_db
def test_the_default_weight_matrix_comes_from_the_days_run_over_the_complete_days_before_it(rule_hits, as_of):
    record(rule_hits["normal_b"], "review", occurred_at=as_of)  # the run's own day: not in its period
    now = timezone.now()  # after every event was recorded
    live_before = weights_report(90, now)
    assert live_before.source == "hits"
    assert live_before.matrix.cells[("normal", "review")].members == 2

    run = summarise(now)

    assert TierSizeSummary.objects.filter(chunk__run=run).exists()
    assert RuleUseSummary.objects.filter(chunk__run=run).exists()
    stored = weights_report(90, now)
    assert (stored.source, stored.as_of) == ("summaries", run.as_of)
    assert stored.last_day == live_before.last_day - timedelta(days=1)
    # The same matrix as read from the hits of the 90 days ending the day before.
    assert matrix_figures(stored) == matrix_figures(weights_report(90, now - timedelta(days=1)))
    cells = stored.matrix.cells
    assert cells[("normal", "check_in")].members == 1  # the closed member is not counted
    assert cells[("normal", "review")].members == 1
    assert [(code, members) for code, _name, members in stored.matrix.tiers[:2]] == [("normal", 2), ("bronze", 1)]


@pytest.mark.django_db
def test_the_stored_matrix_is_a_snapshot_of_its_run_and_other_periods_and_days_read_the_hits(
    rule_hits, as_of, give_growth
):
    now = timezone.now()
    summarise(now)
    stored = weights_report(90, now)
    assert stored.matrix.cells[("normal", "check_in")].members == 1
    give_growth(rule_hits["normal_b"], 600)  # to bronze after the run
    record(rule_hits["bronze"], "review", occurred_at=as_of - timedelta(days=2))  # delivered late

    assert weights_report(90, now) == stored  # until the next run
    fresh = weights_report(30, now)
    assert fresh.source == "hits"
    assert fresh.matrix.cells[("bronze", "review")].members == 1
    assert [(code, members) for code, _name, members in fresh.matrix.tiers[:2]] == [("normal", 1), ("bronze", 2)]
    assert weights_report(90, now + timedelta(days=1)).source == "hits"  # the run of an earlier day
    assert weights_report(90, now - timedelta(minutes=1)).source == "hits"  # a report before the run


@pytest.mark.django_db
def test_a_run_with_a_chunk_that_stored_no_weight_rows_is_not_read_for_the_matrix(rule_hits):
    """A run finished or resumed by workers that predate the stored matrix."""
    now = timezone.now()
    run = summarise(now)
    chunk = run.chunks.order_by("first_member_id").first()
    TierSizeSummary.objects.filter(chunk=chunk).delete()
    RuleUseSummary.objects.filter(chunk=chunk).delete()

    report = weights_report(90, now)

    assert report.source == "hits"
    assert report.matrix.cells[("normal", "check_in")].members == 1


@pytest.mark.django_db
def test_hits_of_events_recorded_after_the_runs_as_of_wait_for_the_next_run(rule_hits, as_of):
    run_as_of = timezone.now()
    late = record(rule_hits["normal_b"], "review", occurred_at=as_of - timedelta(days=3))
    # Delivered after the run's as_of but before its chunk read the hits.
    Event.objects.filter(pk=late.event.pk).update(recorded_at=run_as_of + timedelta(seconds=1))
    summarise(run_as_of)

    stored = weights_report(90, run_as_of)

    assert stored.source == "summaries"
    assert stored.matrix.cells[("normal", "review")].members == 1  # normal_a's review only
    assert weights_report(30, run_as_of).matrix.cells[("normal", "review")].members == 2
