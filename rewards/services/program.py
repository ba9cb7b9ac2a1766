"""Applying the rewards sections of a program file, inside loyalty.services.program.apply_program's
transaction: coupon templates, then rewards, then benefits (each may refer to the one before).
Entries missing from a present section are deactivated, never deleted: coupons, redemptions and
grants refer to them."""

from __future__ import annotations

from typing import Any

from loyalty.errors import InvalidInput
from loyalty.models import Tier
from loyalty.services.program import _diff
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


def _upsert(model, label: str, wanted: list[dict[str, Any]], changes: list[str]) -> dict[str, Any]:
    existing = {row.code: row for row in model.objects.select_for_update()}
    for item in wanted:
        row = existing.get(item["code"])
        if row is None:
            existing[item["code"]] = model.objects.create(**item)
            changes.append(f"{label} {item['code']}: created")
            continue
        changed = _diff(f"{label} {item['code']}", row, item, changes)
        if changed:
            row.save(update_fields=changed)
    wanted_codes = {item["code"] for item in wanted}
    for code, row in existing.items():
        if code not in wanted_codes and row.is_active:
            row.is_active = False
            row.save(update_fields=["is_active"])
            changes.append(f"{label} {code}: deactivated (not in the file)")
    return existing


def apply_coupon_templates(wanted: list[dict[str, Any]], changes: list[str]) -> None:
    pools = _lookup(CodePool, "coupon_templates", "code_pool", wanted, "code pool")
    rows = [{**item, "code_pool": pools.get(item["code_pool"])} for item in wanted]
    _upsert(CouponTemplate, "coupon template", rows, changes)


def apply_rewards(wanted: list[dict[str, Any]], changes: list[str]) -> None:
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
    _upsert(Reward, "reward", rows, changes)


def apply_benefits(wanted: list[dict[str, Any]], changes: list[str]) -> None:
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
    saved = _upsert(Benefit, "benefit", rows, changes)
    for item in wanted:
        benefit = saved[item["code"]]
        current = sorted(benefit.tiers.values_list("code", flat=True))
        if current != item["tiers"]:
            benefit.tiers.set([tiers[code] for code in item["tiers"]])
            changes.append(
                f"benefit {item['code']}: tiers {','.join(current) or '-'} -> {','.join(item['tiers']) or '-'}"
            )
