"""The rewards sections of the program file: import, export, dry-run diff, validation by path."""

import json
from decimal import Decimal

import pytest

from loyalty.models import ProgramSettings
from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services.program import apply_program
from members.errors import InvalidInput
from rewards.models import Benefit, CouponTemplate, Reward
from tests.helpers import DEFAULT_PROGRAM_FILE

pytestmark = pytest.mark.django_db

TEMPLATE = {
    "code": "ten-off",
    "name": "¥10 off",
    "kind": "amount_off",
    "value": "10",
    "min_spend": "99",
    "valid_days": 30,
}
REWARD = {
    "code": "coupon-10",
    "name": "¥10 coupon",
    "kind": "coupon",
    "points_cost": 300,
    "stock": 5,
    "per_member_limit": None,
    "min_tier": None,
    "coupon_template": "ten-off",
}
BENEFIT = {
    "code": "gold-shipping",
    "name": "Free shipping",
    "tiers": ["gold", "diamond"],
    "entitlement": "monthly_coupons",
    "coupon_template": "ten-off",
    "coupon_quantity": 2,
}


@pytest.fixture
def program(program):
    """With the default catalog of a fresh install (the rewards' conftest removes it)."""
    catalog = json.loads(DEFAULT_PROGRAM_FILE.read_text())
    run_import({section: catalog[section] for section in ("coupon_templates", "rewards", "benefits")})
    return program


def run_import(document, *, dry_run=False):
    return apply_program(document=parse_program(document), dry_run=dry_run)


def test_the_issue_example_creates_the_reward(program):
    changes = run_import({"coupon_templates": [TEMPLATE], "rewards": [REWARD], "benefits": [BENEFIT]})

    reward = Reward.objects.get(code="coupon-10")
    assert (reward.kind, reward.points_cost, reward.stock, reward.coupon_template.code) == ("coupon", 300, 5, "ten-off")
    assert "reward coupon-10: points_cost 1000 -> 300" in changes
    assert "reward mug: deactivated (not in the file)" in changes, "migration 0002's catalog is replaced"
    assert sorted(Benefit.objects.get(code="gold-shipping").tiers.values_list("code", flat=True)) == ["diamond", "gold"]
    assert not Benefit.objects.get(code="birthday-gift").is_active


def test_export_then_import_changes_nothing_and_dry_run_writes_nothing(program):
    run_import({"coupon_templates": [TEMPLATE], "rewards": [REWARD], "benefits": [BENEFIT]})
    exported = export_program()
    assert run_import(json.loads(json.dumps(exported))) == []

    changed = dict(exported, rewards=[dict(r, points_cost=r["points_cost"] + 1) for r in exported["rewards"]])
    changed["benefits"] = [dict(b, tiers=["gold"]) if b["code"] == "gold-shipping" else b for b in exported["benefits"]]
    lines = run_import(changed, dry_run=True)

    assert "reward coupon-10: points_cost 300 -> 301" in lines
    assert "benefit gold-shipping: tiers diamond,gold -> gold" in lines
    assert Reward.objects.get(code="coupon-10").points_cost == 300
    assert Benefit.objects.get(code="gold-shipping").tiers.count() == 2


def test_settings_carry_the_target_value_per_point_and_the_hold_time(program):
    run_import({"settings": {"target_value_per_point": "0.02", "hold_minutes": 45}})
    settings = ProgramSettings.current()
    assert (settings.target_value_per_point, settings.hold_minutes) == (Decimal("0.0200"), 45)
    assert export_program()["settings"]["target_value_per_point"] == "0.02"


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"rewards": [dict(REWARD, kind="lottery")]}, "rewards[0].kind"),
        ({"rewards": [dict(REWARD, points_cost=0)]}, "rewards[0].points_cost"),
        ({"rewards": [dict(REWARD, coupon_template=None)]}, "rewards[0].coupon_template"),
        ({"rewards": [dict(REWARD, kind="code")]}, "rewards[0].code_pool"),
        ({"rewards": [dict(REWARD, limit_period="week")]}, "rewards[0].limit_period"),
        ({"rewards": [dict(REWARD, stok=5)]}, "rewards[0].stok"),
        (
            {"rewards": [dict(REWARD, visible_from="2026-12-01T00:00+08:00", visible_until="2026-11-01T00:00+08:00")]},
            "rewards[0].visible_until",
        ),
        ({"rewards": [REWARD, REWARD]}, "rewards[1].code"),
        ({"coupon_templates": [dict(TEMPLATE, valid_days=None)]}, "coupon_templates[0]"),
        ({"coupon_templates": [dict(TEMPLATE, kind="percent_off", value="120")]}, "coupon_templates[0].value"),
        ({"benefits": [dict(BENEFIT, coupon_quantity=0)]}, "benefits[0].coupon_quantity"),
        ({"benefits": [dict(BENEFIT, tiers="gold")]}, "benefits[0].tiers"),
        (
            {"benefits": [dict(BENEFIT, entitlement="referral_rebate", rebate_percent=None)]},
            "benefits[0].rebate_percent",
        ),
        ({"settings": {"hold_minutes": 0}}, "settings.hold_minutes"),
    ],
)
def test_invalid_sections_are_refused_by_path(program, document, path):
    with pytest.raises(InvalidInput) as refused:
        parse_program(document)
    assert path in refused.value.fields


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"rewards": [dict(REWARD, coupon_template="missing")]}, "rewards[0].coupon_template"),
        ({"coupon_templates": [TEMPLATE], "rewards": [dict(REWARD, min_tier="emperor")]}, "rewards[0].min_tier"),
        ({"coupon_templates": [dict(TEMPLATE, code_pool="missing")]}, "coupon_templates[0].code_pool"),
        ({"coupon_templates": [TEMPLATE], "benefits": [dict(BENEFIT, tiers=["emperor"])]}, "benefits[0].tiers"),
    ],
)
def test_unknown_references_write_nothing(program, document, path):
    before = (Reward.objects.count(), CouponTemplate.objects.count(), Benefit.objects.count())
    with pytest.raises(InvalidInput) as refused:
        run_import(document)
    assert path in refused.value.fields
    assert (Reward.objects.count(), CouponTemplate.objects.count(), Benefit.objects.count()) == before


def test_a_fresh_install_has_a_small_catalog(program):
    assert set(Reward.objects.values_list("code", flat=True)) >= {"coupon-10", "cash-5", "mug"}
    assert Benefit.objects.get(code="free-shipping-monthly").tiers.filter(code="gold").exists()
