import csv
import io
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import translation

from loyalty.backoffice.program_design import VIEW_PERMISSION
from loyalty.models import Tier
from loyalty.services.jobs import run_job_now
from tests.factories import MemberFactory

SLUGS = ["distribution", "calibration", "rfm", "weights", "forecast", "economics"]


def page(slug: str) -> str:
    return reverse("admin:program_design_report", args=[slug])


@pytest.mark.django_db
@pytest.mark.parametrize("slug", SLUGS)
def test_each_report_has_a_page_with_its_chart_and_a_csv(admin_client, tiers, slug):
    MemberFactory.create_batch(3)
    response = admin_client.get(page(slug))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="program-design-data"' in body and "chart-4.6.1.umd.min.js" in body
    download = admin_client.get(reverse("admin:program_design_csv", args=[slug]))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert len(list(csv.reader(io.StringIO(download.content.decode())))) > 1


@pytest.mark.django_db
def test_the_section_needs_staff_and_the_view_permission_on_every_url(client, staff_with, tiers):
    urls = [reverse("admin:program_design"), page("rfm"), reverse("admin:program_design_csv", args=["rfm"])]
    for url in urls:
        assert client.get(url).status_code == 302  # to the login page
    client.force_login(staff_with())
    for url in urls:
        assert client.get(url).status_code == 403
    client.force_login(staff_with(VIEW_PERMISSION))
    for url in urls:
        assert client.get(url).status_code == 200
    assert client.get(page("nonsense")).status_code == 404


@pytest.mark.django_db
def test_calibration_hands_the_proposed_thresholds_to_the_tier_what_if(admin_client, give_growth):
    for growth in (0, 0, 100, 600, 2500, 7000, 16000, 45000):
        member = MemberFactory()
        if growth:
            give_growth(member, growth)
    response = admin_client.get(page("calibration"), {"targets": "25/12.5/12.5/12.5/12.5/25"})
    assert response.status_code == 200
    link = urlparse(response.context["whatif_url"])
    assert link.path == reverse("admin:loyalty_tier_whatif")
    proposed = {tier.code: tier.proposed_threshold for tier in response.context["report"].tiers}
    assert parse_qs(link.query) == {f"threshold_{code}": [str(value)] for code, value in proposed.items()}
    whatif = admin_client.get(response.context["whatif_url"])
    assert whatif.context["form"]["bronze"].initial == proposed["bronze"]


@pytest.mark.django_db
def test_bad_targets_are_explained_on_the_page(admin_client, tiers):
    response = admin_client.get(page("calibration"), {"targets": "50/50"})
    assert "one target share per tier: 6, not 2" in response.content.decode()


@pytest.mark.django_db
def test_personas_are_editable_and_the_table_follows(admin_client, tiers):
    default = admin_client.get(page("forecast")).context["report"].personas
    assert [p.name for p in default] == ["A: does everything", "B: does some", "C: does the minimum"]
    response = admin_client.get(page("forecast"), {"c-daily_spend": "500", "c-check_in": "1"})
    edited = response.context["report"].personas
    assert edited[:2] == default[:2]
    assert edited[2].persona == {"daily_spend": "500", "events_per_day": {"check_in": 1}}
    assert edited[2].forecast["growth_per_day"] == 505


@pytest.mark.django_db
def test_benefits_per_tier_have_their_own_download(admin_client, program):
    text = admin_client.get(reverse("admin:program_design_csv", args=["benefits"])).content.decode()
    assert text.startswith("month,tier,grants,coupons,points,value,tier_spend,value_to_spend")
    assert admin_client.get(reverse("admin:program_design_csv", args=["nonsense"])).status_code == 404


@pytest.mark.django_db
def test_the_csv_download_escapes_operator_text(admin_client, tiers):
    Tier.objects.filter(code="gold").update(name="@SUM(1+1)")
    text = admin_client.get(reverse("admin:program_design_csv", args=["distribution"])).content.decode()
    assert "'@SUM(1+1)" in text


@pytest.mark.django_db
def test_the_section_speaks_chinese_to_a_chinese_browser(admin_client, tiers):
    with translation.override("en"):  # the request activates Chinese in this thread: leave it as it was
        html = admin_client.get(page("forecast"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "会员体系设计" in html and "A：参与全部项目" in html and "达到各等级所需天数" in html
    assert "Days to each tier" not in html


@pytest.mark.django_db
def test_the_weights_page_says_when_it_shows_the_nightly_summaries(admin_client, tiers):
    MemberFactory.create_batch(2)
    assert "nightly summaries" not in admin_client.get(page("weights")).content.decode()
    run_job_now(job="store_report_summaries")

    default = admin_client.get(page("weights")).content.decode()
    assert "From the nightly summaries of" in default
    assert "nightly summaries" not in admin_client.get(page("weights") + "?days=30").content.decode()
