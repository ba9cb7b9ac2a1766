"""The admin shows every time in the program's time zone with its abbreviation, in one format
(lists, detail pages, the member page); the API keeps answering in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from loyalty.models import PointsEntry, ProgramSettings
from loyalty.services import enrol_member
from tests.helpers import purchase
from tests.loyalty.api.conftest import client_for

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 16:00 UTC is midnight in Shanghai: a day later there than in UTC.
AT = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)


@pytest.fixture
def lot(program):
    member = enrol_member(external_id="tz-1")
    purchase(member, "100", order_id="tz-o", occurred_at=AT)
    return PointsEntry.objects.get(member=member, kind="earn")


def shown(moment: datetime, zone: ZoneInfo = SHANGHAI) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M ") + moment.astimezone(zone).tzname()


def test_lists_and_detail_pages_show_the_programs_zone_with_its_abbreviation(admin_client, lot):
    listing = admin_client.get(reverse("admin:loyalty_pointsentry_changelist")).content.decode()
    detail = admin_client.get(reverse("admin:loyalty_pointsentry_change", args=[lot.pk])).content.decode()

    assert shown(AT) == "2026-03-02 00:00 CST"
    for html in (listing, detail):
        assert shown(AT) in html
        assert shown(lot.expires_at) in html
        assert "2026-03-01 16:00" not in html  # not UTC


def test_the_member_page_shows_the_programs_zone(admin_client, lot):
    html = admin_client.get(reverse("admin:members_member_change", args=[lot.member_id])).content.decode()

    assert shown(AT) in html  # the points ledger panel


def test_a_program_in_another_zone_shows_that_zone(admin_client, lot):
    ProgramSettings.objects.filter(pk=ProgramSettings.SINGLETON_PK).update(timezone="Europe/Berlin")

    html = admin_client.get(reverse("admin:loyalty_pointsentry_changelist")).content.decode()

    assert shown(AT, ZoneInfo("Europe/Berlin")) == "2026-03-01 17:00 CET"
    assert shown(AT, ZoneInfo("Europe/Berlin")) in html


def test_the_api_keeps_answering_in_utc(lot):
    response = client_for("web shop").get(reverse("member-points", args=["tz-1"]))

    assert response.status_code == 200
    assert "2026-03-01T16:00:00Z" in response.content.decode()
