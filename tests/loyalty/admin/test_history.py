"""Configuration history: who changed what, with old and new values, from the admin, the program
file and the spreadsheet imports; the history pages only show."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.models import EarningRule, ProgramSettings, Tier
from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services.program import apply_program
from rewards.models import Benefit, Reward

from .conftest import confirm, upload

pytestmark = pytest.mark.django_db


def tier_form(tier: Tier, **changes) -> dict:
    fields = {
        "code": tier.code,
        "name": tier.name,
        "rank": tier.rank,
        "threshold": tier.threshold,
        "points_multiplier": tier.points_multiplier,
        "description": tier.description,
    }
    return {**fields, **changes}


def test_an_admin_edit_is_recorded_with_its_user_and_shown_as_old_and_new_values(login_as, client, tiers):
    marketer = login_as("loyalty.view_tier", "loyalty.change_tier", username="marketer")
    gold = tiers["gold"]

    form = tier_form(gold, points_multiplier="1.6")  # the threshold changes on the what-if page only
    response = client.post(reverse("admin:loyalty_tier_change", args=[gold.pk]), form)

    assert response.status_code == 302
    latest = gold.history.latest()
    assert (latest.history_type, latest.history_user, latest.points_multiplier) == ("~", marketer, Decimal("1.6"))
    page = " ".join(client.get(reverse("admin:loyalty_tier_history", args=[gold.pk])).content.decode().split())
    assert "&nbsp;&rarr;&nbsp;&nbsp;1.600" in page
    assert ">marketer</a>" in page


def test_a_program_file_import_is_recorded_change_by_change(program):
    document = export_program()
    document["settings"]["point_value"] = "0.02"
    next(tier for tier in document["tiers"] if tier["code"] == "gold")["threshold"] = 6500
    document["rules"][0]["points"] += 1
    document["rewards"][0]["name"] = "Renamed by file"
    document["benefits"][0]["tiers"] = ["diamond"]
    rule = EarningRule.objects.get(code=document["rules"][0]["code"])
    reward = Reward.objects.get(code=document["rewards"][0]["code"])
    benefit = Benefit.objects.get(code=document["benefits"][0]["code"])
    tiers_before = {tier.code: tier.history.count() for tier in Tier.objects.all()}
    before = (ProgramSettings.current().history.count(), rule.history.count(), reward.history.count())

    apply_program(document=parse_program(document))

    settings = ProgramSettings.current()
    assert (settings.history.count(), rule.history.count(), reward.history.count()) == tuple(n + 1 for n in before)
    assert settings.history.latest().point_value == Decimal("0.02")
    assert reward.history.latest().name == "Renamed by file"
    assert [row.tier.code for row in benefit.history.latest().tiers.all()] == ["diamond"]
    # Only the tier that changed: the others were parked and put back as they were.
    tiers_after = {tier.code: tier.history.count() for tier in Tier.objects.all()}
    assert {code for code in tiers_after if tiers_after[code] != tiers_before[code]} == {"gold"}
    assert Tier.objects.get(code="gold").history.latest().threshold == 6500


def test_a_spreadsheet_import_is_recorded_with_the_user_who_confirmed_it(login_as, client):
    clerk = login_as("rewards.view_reward", "rewards.change_reward")
    reward = Reward.objects.order_by("pk").first()
    row = f"code,name\r\n{reward.code},Imported name\r\n".encode()

    confirm(client, "rewards_reward", upload(client, "rewards_reward", row))

    latest = reward.history.latest()
    assert (latest.name, latest.history_user) == ("Imported name", clerk)


@pytest.mark.parametrize("permissions", [("loyalty.view_tier",), ("loyalty.view_tier", "loyalty.change_tier")])
def test_the_history_pages_show_and_never_write(login_as, client, tiers, permissions):
    gold = tiers["gold"]
    gold.name = "Gold (old name)"
    gold.save()
    version = gold.history.latest()
    gold.name = "Gold"
    gold.save()
    login_as(*permissions)
    version_url = reverse("admin:loyalty_tier_simple_history", args=[gold.pk, version.pk])

    assert client.get(reverse("admin:loyalty_tier_history", args=[gold.pk])).status_code == 200
    assert client.get(version_url).status_code == 200
    assert client.post(version_url, tier_form(gold, name="Overwritten")).status_code == 403

    gold.refresh_from_db()
    assert gold.name == "Gold"
