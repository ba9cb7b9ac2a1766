"""The rewards sections of a program file, applied inside loyalty.services.program.apply_program's
transaction through the configuration writers: coupon templates, then rewards, then benefits (each
may refer to the one before). Entries missing from a present section are deactivated, never
deleted: coupons, redemptions and grants refer to them."""

from __future__ import annotations

from typing import Any

from loyalty.models import Tier
from loyalty.services.configuration import writer_for
from loyalty.services.program import assign
from members.errors import InvalidInput
from rewards.models import Benefit, CodePool, CouponTemplate, Reward


def _lookup(model, section: str, key: str, wanted: list[dict], label: str) -> dict[str, Any]:
    """code -> row for every `key` reference in the section; unknown references are one InvalidInput."""
    codes = {item[key] for item in wanted if item.get(key)}
    found = {row.code: row for row in model.objects.filter(code__in=codes)}
    unknown = {
        f"{section}[{index}].{key}": [f"Unknown {label} {item[key]!r}."]
        for index, item in enumerate(wanted)
        if item.get(key) and item[key] not in found
    }
    if unknown:
        raise InvalidInput(f"The {section} refer to {label}s that do not exist.", fields=unknown)
    return found


def _upsert(model, wanted: list[dict[str, Any]], changes: list[str], actor, many: dict | None = None) -> None:
    writer = writer_for(model)
    existing = {row.code: row for row in model.objects.select_for_update()}
    for item in wanted:
        row = existing.get(item["code"]) or model()
        related = (many or {}).get(item["code"])
        changes += writer.save(assign(row, item), actor=actor, fields=item, many_to_many=related).changes
    wanted_codes = {item["code"] for item in wanted}
    for code, row in existing.items():
        if code not in wanted_codes and row.is_active:
            row.is_active = False
            writer.save(row, actor=actor, fields=["is_active"])
            changes.append(f"{writer.label} {code}: deactivated (not in the file)")


def apply_coupon_templates(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    pools = _lookup(CodePool, "coupon_templates", "code_pool", wanted, "code pool")
    rows = [{**item, "code_pool": pools.get(item["code_pool"])} for item in wanted]
    _upsert(CouponTemplate, rows, changes, actor)


def apply_rewards(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    templates = _lookup(CouponTemplate, "rewards", "coupon_template", wanted, "coupon template")
    pools = _lookup(CodePool, "rewards", "code_pool", wanted, "code pool")
    tiers = _lookup(Tier, "rewards", "min_tier", wanted, "tier")
    rows = [
        {
            **item,
            "coupon_template": templates.get(item["coupon_template"]),
            "code_pool": pools.get(item["code_pool"]),
            "min_tier": tiers.get(item["min_tier"]),
        }
        for item in wanted
    ]
    _upsert(Reward, rows, changes, actor)


def apply_benefits(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    templates = _lookup(CouponTemplate, "benefits", "coupon_template", wanted, "coupon template")
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    unknown = {
        f"benefits[{index}].tiers": [f"Unknown tier {code!r}." for code in item["tiers"] if code not in tiers]
        for index, item in enumerate(wanted)
        if set(item["tiers"]) - set(tiers)
    }
    if unknown:
        raise InvalidInput("Benefits refer to tiers that do not exist.", fields=unknown)
    rows = [
        {**{k: v for k, v in item.items() if k != "tiers"}, "coupon_template": templates.get(item["coupon_template"])}
        for item in wanted
    ]
    many = {item["code"]: {"tiers": [tiers[code] for code in item["tiers"]]} for item in wanted}
    _upsert(Benefit, rows, changes, actor, many)
