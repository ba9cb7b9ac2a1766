from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns.selectors import members_in_quadrant
from loyalty.analytics import rfm
from loyalty.analytics.report import ReportOptions, rfm_report
from loyalty.models import JobRun, MemberRFM
from loyalty.services.jobs import run_job_now
from members.services import close_member
from tests.factories import MemberFactory
from tests.helpers import purchase

pytestmark = pytest.mark.django_db


def stored() -> dict[str, tuple]:
    return {
        row.member.external_id: (row.frequency, row.monetary, row.recency_days, row.period)
        for row in MemberRFM.objects.select_related("member")
    }


def test_the_nightly_job_stores_every_members_rfm_once_per_period(rfm_population, as_of):
    run = run_job_now(job="store_member_rfm", as_of=as_of, chunk_size=4)
    assert (run.status, run.chunks_total, run.entries_written) == (JobRun.Status.DONE, 2, 6)
    period = run.period
    first = stored()
    assert first == {
        "rfm-a": (3, Decimal("300.00"), 10, period),
        "rfm-b": (1, Decimal("500.00"), 20, period),
        "rfm-c": (2, Decimal("20.00"), 30, period),
        "rfm-d": (0, Decimal("0.00"), None, period),
        "rfm-e": (0, Decimal("0.00"), None, period),
        "rfm-f": (1, Decimal("60.00"), 5, period),
    }
    purchase(rfm_population["d"], "80", occurred_at=as_of)
    again = run_job_now(job="store_member_rfm", as_of=as_of)
    assert again.pk == run.pk and JobRun.objects.filter(job="store_member_rfm").count() == 1
    assert stored() == first  # the period is done: nothing is written twice
    next_day = run_job_now(job="store_member_rfm", as_of=as_of + timedelta(days=1))
    assert next_day.pk != run.pk
    assert stored()["rfm-d"][:3] == (1, Decimal("80.00"), 1)
    assert stored()["rfm-a"][2] == 11


def test_campaigns_target_a_quadrant_of_the_stored_values(rfm_population, as_of):
    run_job_now(job="store_member_rfm", as_of=as_of)
    high = members_in_quadrant(
        quadrant=rfm.HIGH_SPEND_LOW_FREQUENCY, cut_frequency=Decimal(1), cut_monetary=Decimal(40)
    )
    assert sorted(high.values_list("external_id", flat=True)) == ["rfm-b", "rfm-f"]
    low = members_in_quadrant(quadrant=rfm.LOW_SPEND_LOW_FREQUENCY, cut_frequency=Decimal(1), cut_monetary=Decimal(40))
    assert sorted(low.values_list("external_id", flat=True)) == ["rfm-d", "rfm-e"]


def test_the_report_reads_the_days_store_once_it_is_done(rfm_population, as_of):
    live = rfm_report(ReportOptions(), as_of)
    assert live.source == "events"
    run = run_job_now(job="store_member_rfm", as_of=as_of)
    stored = rfm_report(ReportOptions(), as_of)
    assert (stored.source, stored.as_of) == ("store", run.as_of)
    assert (stored.cut, stored.quadrants) == (live.cut, live.quadrants)
    assert rfm_report(ReportOptions(rfm_window_days=30), as_of).source == "events"  # not the stored window


def test_the_store_is_one_snapshot_of_members_their_tiers_and_their_rfm(rfm_population, as_of, give_growth):
    close_member(member=rfm_population["e"])
    run_job_now(job="store_member_rfm", as_of=as_of)
    row = MemberRFM.objects.get(member=rfm_population["a"])
    assert (row.tier_id, row.growth_value, row.closed) == (
        rfm_population["a"].tier_id,
        rfm_population["a"].growth_value,
        False,
    )
    assert MemberRFM.objects.get(member=rfm_population["e"]).closed
    stored = rfm_report(ReportOptions(), as_of)
    assert sum(quadrant.members for quadrant in stored.quadrants) == 5  # the closed member left out

    give_growth(rfm_population["d"], 100_000)  # after the store ran: counted from the next run on
    MemberFactory(external_id="rfm-new")
    assert rfm_report(ReportOptions(), as_of) == stored
