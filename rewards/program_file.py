"""The rewards sections of the program file: coupon_templates, rewards, benefits (checking only; no
database here). References between them (a reward's coupon template, a benefit's tiers) are checked
against the database when the file is applied, by rewards.services.program."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loyalty.program_file import (
    ProgramErrors,
    code_value,
    decimal_number,
    moment_value,
    object_list,
    optional_limit,
    text_value,
    unique_codes,
    whole_number,
)

from .models import Benefit, CouponTemplate, Reward

TEMPLATE_KEYS = {
    "code",
    "name",
    "description",
    "kind",
    "value",
    "min_spend",
    "valid_from",
    "valid_until",
    "valid_days",
    "inactive_days",
    "code_pool",
    "active",
}
REWARD_KEYS = {
    "code",
    "name",
    "description",
    "image_url",
    "kind",
    "points_cost",
    "cash_value",
    "stock",
    "per_member_limit",
    "limit_period",
    "min_tier",
    "visible_from",
    "visible_until",
    "active",
    "category",
    "sort_order",
    "coupon_template",
    "code_pool",
}
BENEFIT_KEYS = {
    "code",
    "name",
    "description",
    "tiers",
    "entitlement",
    "coupon_template",
    "coupon_quantity",
    "points",
    "growth",
    "rebate_percent",
    "sort_order",
    "active",
}
ZERO = Decimal("0")


def _choice(errors: ProgramErrors, path: str, value: Any, choices: list[str], default: str | None = None) -> str:
    value = default if value is None else value
    if value not in choices:
        errors.add(path, f"Must be one of {', '.join(choices)}.")
        return ""
    return value


def _bool(errors: ProgramErrors, path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        errors.add(path, "Must be true or false.")
    return bool(value)


def _reference(errors: ProgramErrors, path: str, value: Any) -> str | None:
    return None if value is None else code_value(errors, path, value, max_length=64)


def _window(errors: ProgramErrors, path: str, item: dict, start_key: str, end_key: str):
    start, end = (
        moment_value(errors, f"{path}.{start_key}", item.get(start_key)),
        moment_value(errors, f"{path}.{end_key}", item.get(end_key)),
    )
    if start and end and end <= start:
        errors.add(f"{path}.{end_key}", f"Must be after {start_key}.")
    return start, end


def parse_coupon_templates(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "coupon_templates", raw)):
        path = f"coupon_templates[{index}]"
        errors.unknown_keys(path, item, TEMPLATE_KEYS)
        valid_from, valid_until = _window(errors, path, item, "valid_from", "valid_until")
        valid_days = item.get("valid_days")
        template = {
            "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
            "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128, required=True),
            "description": text_value(errors, f"{path}.description", item.get("description"), max_length=2000),
            "kind": _choice(errors, f"{path}.kind", item.get("kind"), CouponTemplate.Kind.values),
            "value": decimal_number(errors, f"{path}.value", item.get("value", "0"), minimum=ZERO),
            "min_spend": decimal_number(errors, f"{path}.min_spend", item.get("min_spend", "0"), minimum=ZERO),
            "valid_from": valid_from,
            "valid_until": valid_until,
            "valid_days": None
            if valid_days is None
            else whole_number(errors, f"{path}.valid_days", valid_days, minimum=1, maximum=3660),
            "inactive_days": whole_number(
                errors, f"{path}.inactive_days", item.get("inactive_days", 0), minimum=0, maximum=365
            ),
            "code_pool": _reference(errors, f"{path}.code_pool", item.get("code_pool")),
            "is_active": _bool(errors, f"{path}.active", item.get("active", True)),
        }
        if valid_days is None and valid_until is None:
            errors.add(path, "Give valid_days or fixed dates (valid_until).")
        value = template["value"]
        if template["kind"] == CouponTemplate.Kind.PERCENT_OFF and value is not None and not ZERO < value <= 100:
            errors.add(f"{path}.value", "A percentage above 0 and at most 100.")
        items.append(template)
    unique_codes(errors, "coupon_templates", items)
    return items


def parse_rewards(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "rewards", raw)):
        path = f"rewards[{index}]"
        errors.unknown_keys(path, item, REWARD_KEYS)
        visible_from, visible_until = _window(errors, path, item, "visible_from", "visible_until")
        stock = item.get("stock")
        reward = {
            "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
            "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128, required=True),
            "description": text_value(errors, f"{path}.description", item.get("description"), max_length=5000),
            "image_url": text_value(errors, f"{path}.image_url", item.get("image_url"), max_length=500),
            "kind": _choice(errors, f"{path}.kind", item.get("kind"), Reward.Kind.values),
            "points_cost": whole_number(errors, f"{path}.points_cost", item.get("points_cost"), minimum=1),
            "cash_value": decimal_number(errors, f"{path}.cash_value", item.get("cash_value", "0"), minimum=ZERO),
            "stock": None if stock is None else whole_number(errors, f"{path}.stock", stock, minimum=0),
            "per_member_limit": optional_limit(errors, f"{path}.per_member_limit", item.get("per_member_limit")),
            "limit_period": _choice(
                errors, f"{path}.limit_period", item.get("limit_period"), Reward.LimitPeriod.values, "ever"
            ),
            "min_tier": _reference(errors, f"{path}.min_tier", item.get("min_tier")),
            "visible_from": visible_from,
            "visible_until": visible_until,
            "is_active": _bool(errors, f"{path}.active", item.get("active", True)),
            "category": text_value(errors, f"{path}.category", item.get("category"), max_length=64),
            "sort_order": whole_number(errors, f"{path}.sort_order", item.get("sort_order", 0), maximum=1_000_000),
            "coupon_template": _reference(errors, f"{path}.coupon_template", item.get("coupon_template")),
            "code_pool": _reference(errors, f"{path}.code_pool", item.get("code_pool")),
        }
        if reward["kind"] in (Reward.Kind.COUPON, Reward.Kind.POINTS_TO_CASH) and not reward["coupon_template"]:
            errors.add(f"{path}.coupon_template", f"Required for {reward['kind']} rewards.")
        if reward["kind"] == Reward.Kind.CODE and not reward["code_pool"]:
            errors.add(f"{path}.code_pool", "Required for code rewards.")
        items.append(reward)
    unique_codes(errors, "rewards", items)
    return items


def parse_benefits(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "benefits", raw)):
        path = f"benefits[{index}]"
        errors.unknown_keys(path, item, BENEFIT_KEYS)
        tiers = item.get("tiers", [])
        if not isinstance(tiers, list) or not all(isinstance(code, str) for code in tiers):
            errors.add(f"{path}.tiers", "Must be a list of tier codes.")
            tiers = []
        rebate = item.get("rebate_percent")
        benefit = {
            "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
            "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128, required=True),
            "description": text_value(errors, f"{path}.description", item.get("description"), max_length=2000),
            "tiers": sorted(set(tiers)),
            "entitlement": _choice(
                errors, f"{path}.entitlement", item.get("entitlement"), Benefit.Entitlement.values, "none"
            ),
            "coupon_template": _reference(errors, f"{path}.coupon_template", item.get("coupon_template")),
            "coupon_quantity": whole_number(
                errors, f"{path}.coupon_quantity", item.get("coupon_quantity", 0), minimum=0, maximum=100
            ),
            "points": whole_number(errors, f"{path}.points", item.get("points", 0), minimum=0, maximum=100_000_000),
            "growth": whole_number(errors, f"{path}.growth", item.get("growth", 0), minimum=0, maximum=100_000_000),
            "rebate_percent": None
            if rebate is None
            else decimal_number(errors, f"{path}.rebate_percent", rebate, minimum=ZERO),
            "sort_order": whole_number(errors, f"{path}.sort_order", item.get("sort_order", 0), maximum=1_000_000),
            "is_active": _bool(errors, f"{path}.active", item.get("active", True)),
        }
        _check_entitlement(errors, path, benefit)
        items.append(benefit)
    unique_codes(errors, "benefits", items)
    return items


def _check_entitlement(errors: ProgramErrors, path: str, benefit: dict) -> None:
    kind = benefit["entitlement"]
    if benefit["coupon_quantity"] and not benefit["coupon_template"]:
        errors.add(f"{path}.coupon_template", "Required when coupon_quantity is set.")
    if kind == Benefit.Entitlement.MONTHLY_COUPONS and not benefit["coupon_quantity"]:
        errors.add(f"{path}.coupon_quantity", "Monthly coupons need a quantity of at least 1.")
    if kind == Benefit.Entitlement.BIRTHDAY_GIFT and not (
        benefit["coupon_quantity"] or benefit["points"] or benefit["growth"]
    ):
        errors.add(path, "A birthday gift gives points, growth or coupons.")
    rebate = benefit["rebate_percent"]
    if kind == Benefit.Entitlement.REFERRAL_REBATE and rebate is None:
        errors.add(f"{path}.rebate_percent", "Required for a referral rebate.")
    if rebate is not None and rebate > 100:
        errors.add(f"{path}.rebate_percent", "At most 100.")
