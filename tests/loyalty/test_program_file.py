"""The program as a file: export/import round trip, dry-run, validation that writes nothing."""

import copy
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from loyalty.models import EarningRule, EventType, ProgramSettings, Tier
from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services import enrol_member
from loyalty.services.program import apply_program
from members.errors import InvalidInput

pytestmark = pytest.mark.django_db


def run_import(document, *, dry_run=False):
    return apply_program(document=parse_program(document), dry_run=dry_run)


def snapshot():
    return json.dumps(export_program(), sort_keys=True)


def test_fresh_install_has_the_six_tiers_of_the_articles():
    tiers = list(Tier.objects.order_by("rank"))
    assert [t.code for t in tiers] == ["normal", "bronze", "silver", "gold", "platinum", "diamond"]
    assert tiers[0].threshold == 0
    assert [t.threshold for t in tiers] == sorted(t.threshold for t in tiers)


def test_export_then_import_changes_nothing():
    assert run_import(export_program()) == []


def test_issue_example_file_is_accepted():
    document = {
        "settings": {
            "currency": "CNY",
            "timezone": "Asia/Shanghai",
            "point_value": "0.01",
            "pending_days": 0,
            "points_expiry": {"policy": "rolling_months", "months": 12},
            "growth_window": {"policy": "rolling_months", "months": 12},
            "downgrade": "one_tier",
        },
        "tiers": [{"code": "normal", "name": "普通", "rank": 0, "threshold": 0, "points_multiplier": "1"}],
        "rules": [
            {
                "code": "purchase",
                "event_type": "purchase",
                "growth_per_unit": "1",
                "points_per_unit": "1",
                "apply_tier_multiplier": True,
            },
            {"code": "check_in", "event_type": "check_in", "growth": 5, "points": 2, "daily_limit": 1},
            {"code": "complaint", "event_type": "complaint", "growth": -50},
        ],
    }
    run_import(document)
    assert list(Tier.objects.values_list("code", flat=True)) == ["normal"]
    assert set(EarningRule.objects.filter(is_active=True).values_list("code", flat=True)) == {
        "purchase",
        "check_in",
        "complaint",
    }
    assert EarningRule.objects.get(code="complaint").growth == -50


def test_dry_run_reports_changes_and_writes_nothing():
    document = export_program()
    document["settings"]["pending_days"] = 7
    document["tiers"][3]["threshold"] = 5000
    before = snapshot()
    changes = run_import(document, dry_run=True)
    assert "settings: pending_days 0 -> 7" in changes
    assert "tier gold: threshold 6000 -> 5000" in changes
    assert snapshot() == before


def test_import_applies_settings_tiers_and_rules():
    document = export_program()
    document["settings"]["points_expiry"] = {"policy": "never"}
    document["settings"]["downgrade"] = "to_qualifying"
    document["tiers"][2]["points_multiplier"] = "1.25"
    document["rules"].append({"code": "double_review", "event_type": "review", "points": 5})
    run_import(document)
    program = ProgramSettings.current()
    assert program.points_expiry_policy == "never"
    assert program.downgrade_policy == "to_qualifying"
    assert Tier.objects.get(code="silver").points_multiplier == Decimal("1.25")
    assert EarningRule.objects.get(code="double_review").points == 5


def test_rules_left_out_of_the_file_are_deactivated_not_deleted():
    document = export_program()
    document["rules"] = [r for r in document["rules"] if r["code"] != "login"]
    assert "rule login: deactivated (not in the file)" in run_import(document)
    assert EarningRule.objects.get(code="login").is_active is False


def test_ladder_can_be_reordered_in_one_import():
    document = export_program()
    bronze, silver = document["tiers"][1], document["tiers"][2]
    bronze["rank"], silver["rank"] = silver["rank"], bronze["rank"]
    bronze["threshold"], silver["threshold"] = silver["threshold"], bronze["threshold"]
    run_import(document)
    assert list(Tier.objects.order_by("rank").values_list("code", flat=True))[:3] == ["normal", "silver", "bronze"]


def test_custom_event_type_can_be_added_with_its_rule():
    document = export_program()
    document["event_types"] = [{"code": "live_stream", "name": "Watched a live stream"}]
    document["rules"].append({"code": "live_stream", "event_type": "live_stream", "growth": 3, "daily_limit": 2})
    run_import(document)
    assert EventType.objects.get(code="live_stream").is_builtin is False
    assert EarningRule.objects.get(code="live_stream").daily_limit == 2


def test_absent_sections_are_left_alone():
    run_import({"settings": {"pending_days": 3}})
    assert ProgramSettings.current().pending_days == 3
    assert Tier.objects.count() == 6
    assert EarningRule.objects.filter(is_active=True).count() == 11


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["tiers"][0].update(threshold=10), "tiers"),
        (lambda d: d["tiers"][2].update(threshold=100), "tiers"),
        (lambda d: d["tiers"][1].update(code="normal"), "tiers[1].code"),
        (lambda d: d["rules"][0].update(growth="many"), "rules[0].growth"),
        (lambda d: d["rules"][0].update(daily_limit=0), "rules[0].daily_limit"),
        (lambda d: d["rules"][0].update(colour="red"), "rules[0].colour"),
        (lambda d: d["settings"].update(timezone="Mars/Olympus"), "settings.timezone"),
        (lambda d: d["settings"].update(points_expiry={"policy": "sometimes"}), "settings.points_expiry.policy"),
        (lambda d: d["settings"].update(downgrade="two_tiers"), "settings.downgrade"),
        (lambda d: d["settings"].update(currency="yuan"), "settings.currency"),
        (lambda d: d.update(unknown_section=[]), "$.unknown_section"),
    ],
)
def test_malformed_file_is_refused_by_path_and_writes_nothing(mutate, path):
    document = copy.deepcopy(export_program())
    mutate(document)
    before = snapshot()
    with pytest.raises(InvalidInput) as error:
        run_import(document)
    assert path in error.value.fields
    assert snapshot() == before


def test_rule_for_an_unknown_event_type_is_refused_and_nothing_is_written():
    document = export_program()
    document["settings"]["pending_days"] = 9
    document["rules"].append({"code": "ghost", "event_type": "ghost_type", "growth": 1})
    with pytest.raises(InvalidInput) as error:
        run_import(document)
    assert any("ghost_type" in message for messages in error.value.fields.values() for message in messages)
    assert ProgramSettings.current().pending_days == 0


def test_a_tier_members_hold_cannot_be_removed():
    enrol_member(external_id="m1")
    document = export_program()
    document["tiers"] = document["tiers"][1:]
    document["tiers"][0]["threshold"] = 0
    with pytest.raises(InvalidInput) as error:
        run_import(document)
    assert "normal is held by 1 members." in error.value.fields["tiers"]
    assert Tier.objects.filter(code="normal").exists()


def test_command_export_prints_json_and_import_reads_a_file(tmp_path):
    out = StringIO()
    call_command("program", "export", stdout=out)
    document = json.loads(out.getvalue())
    document["settings"]["pending_days"] = 5
    path = tmp_path / "program.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    dry = StringIO()
    call_command("program", "import", str(path), "--dry-run", stdout=dry)
    assert "Would change: settings: pending_days 0 -> 5" in dry.getvalue()
    assert ProgramSettings.current().pending_days == 0

    call_command("program", "import", str(path), stdout=StringIO())
    assert ProgramSettings.current().pending_days == 5


def test_command_refuses_invalid_json_with_a_clear_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"settings": ', encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("program", "import", str(path))


def test_command_lists_every_problem_with_its_path(tmp_path):
    document = export_program()
    document["tiers"][0]["threshold"] = 10
    document["rules"][0]["points"] = 1.5
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CommandError) as error:
        call_command("program", "import", str(path))
    message = str(error.value)
    assert "Nothing was written" in message
    assert "tiers: The lowest tier (normal) must have threshold 0" in message
    assert "rules[0].points: Must be a whole number." in message


def test_the_hardening_settings_round_trip_and_are_checked():
    document = export_program()
    assert document["settings"]["return_downgrade"] == "immediate"
    assert document["settings"]["max_event_age_days"] == 730
    run_import({"settings": {"return_downgrade": "at_recalculation", "max_event_age_days": 365}})
    program = ProgramSettings.current()
    assert (program.return_downgrade, program.max_event_age_days) == ("at_recalculation", 365)
    for bad in ({"return_downgrade": "later"}, {"max_event_age_days": 0}, {"max_event_age_days": 10**6}):
        with pytest.raises(InvalidInput) as refused:
            run_import({"settings": bad})
        assert list(refused.value.fields) == [f"settings.{next(iter(bad))}"]


@pytest.mark.parametrize(
    "document",
    [
        {"tiers": [{"code": "normal", "name": "N\ud800", "rank": 0, "threshold": 0}]},
        {"settings": {"timezone": "Asia/\udc00"}},
        {"rewards": [{"code": "r", "\ud800": 1}]},
    ],
)
def test_text_that_cannot_be_stored_is_refused_with_its_place(document):
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        run_import(document)
    assert "surrogate" in " ".join(m for ms in refused.value.fields.values() for m in ms)
    assert snapshot() == before


def test_the_admin_upload_refuses_hostile_json_on_the_form(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    admin_client.defaults["HTTP_HOST"] = "localhost"
    url = reverse("admin:loyalty_program_file")
    for content in (b"[" * 100_000 + b"]" * 100_000, b'{"settings": {"currency": "\\ud800"}}'):
        page = admin_client.post(url, {"file": SimpleUploadedFile("p.json", content)})
        assert page.status_code == 200 and page.context["errors"], content[:40]
    document = '{"tiers": [{"code": "x\\ud800", "name": "X", "rank": 0, "threshold": 0}]}'
    page = admin_client.post(url, {"document": document, "step": "apply"})
    assert page.status_code == 200 and page.context["errors"]


def _staff_who_may_change_only(*codenames):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    user = UserFactory()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)


def test_an_empty_section_is_a_change_that_needs_its_permission():
    """A present section is the whole desired state: "rules": [] deactivates every rule, so someone
    allowed to change only the settings may not send it."""
    from members.errors import NotPermitted

    staff = _staff_who_may_change_only("change_programsettings")
    before = snapshot()
    empty = {"rules": [], "rewards": [], "benefits": [], "coupon_templates": []}
    with pytest.raises(NotPermitted) as refused:
        apply_program(document=parse_program(empty), actor=staff)
    assert set(refused.value.fields) == {"rules", "rewards", "benefits", "coupon_templates"}
    assert snapshot() == before
    assert EarningRule.objects.filter(is_active=True).exists()


def test_a_whole_exported_file_may_be_uploaded_by_someone_who_changed_only_its_settings():
    staff = _staff_who_may_change_only("change_programsettings")
    document = export_program()
    document["settings"]["pending_days"] = 3
    changes = apply_program(document=parse_program(document), actor=staff)
    assert changes == ["settings: pending_days 0 -> 3"]
    document["rules"][0]["growth_per_unit"] = "7"
    with pytest.raises(Exception, match="rules"):
        apply_program(document=parse_program(document), actor=staff)
    assert ProgramSettings.current().pending_days == 3


def test_the_default_program_file_is_what_a_fresh_install_exports():
    """docs/examples/default-program.json is the program a fresh install has (tests restore it with
    helpers.ensure_default_program after a transactional test flushed the database)."""
    from loyalty.models import BUILTIN_EVENT_TYPES
    from tests.helpers import DEFAULT_PROGRAM_FILE

    assert export_program() == json.loads(DEFAULT_PROGRAM_FILE.read_text())
    builtins = dict(EventType.objects.filter(is_builtin=True).values_list("code", "name"))
    assert builtins == BUILTIN_EVENT_TYPES
