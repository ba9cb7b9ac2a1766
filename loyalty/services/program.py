"""Applying a program file: settings, event types, the tier ladder and the earning rules, in one
transaction. Existing members keep their tier until they earn (upgrade) or the scheduled
recalculation runs, so a new ladder never silently moves anyone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, ProtectedError

from loyalty.errors import InvalidInput, NotPermitted
from loyalty.models import EarningRule, EventType, ProgramSettings, Tier
from loyalty.program_file import ProgramDocument, decimal_text

# What a staff member needs to change each section of a program file.
SECTION_PERMISSIONS = {
    "settings": "loyalty.change_programsettings",
    "event_types": "loyalty.change_eventtype",
    "tiers": "loyalty.change_tier",
    "rules": "loyalty.change_earningrule",
    "coupon_templates": "rewards.change_coupontemplate",
    "rewards": "rewards.change_reward",
    "benefits": "rewards.change_benefit",
}

# Ranks and thresholds are unique, so a reordered ladder is parked on values no real tier uses first.
_PARKED_RANK = 30_000
_PARKED_THRESHOLD = 2_000_000_000


class _DryRun(Exception):
    pass


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    return "null" if value is None else str(value)


def _diff(label: str, obj, wanted: dict[str, Any], changes: list[str]) -> list[str]:
    changed = []
    for name, value in wanted.items():
        current = getattr(obj, name)
        if current != value:
            changes.append(f"{label}: {name} {_show(current)} -> {_show(value)}")
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _check_permissions(document: ProgramDocument, actor) -> None:
    if actor is None:
        return
    sections = [
        name
        for name, permission in SECTION_PERMISSIONS.items()
        if getattr(document, name) not in (None, [], {}) and not actor.has_perm(permission)
    ]
    if sections:
        raise NotPermitted(
            f"You may not change these parts of the program: {', '.join(sections)}.",
            fields={name: ["You may not change this section."] for name in sections},
        )


def apply_program(*, document: ProgramDocument, dry_run: bool = False, actor=None) -> list[str]:
    """Apply the document and return the changes made, one line each. With dry_run, the same
    changes are worked out against the database and rolled back. A staff `actor` needs the change
    permission of every section the document holds (SECTION_PERMISSIONS)."""
    _check_permissions(document, actor)
    changes: list[str] = []
    try:
        with transaction.atomic():
            _apply_settings(document.settings, changes)
            _apply_event_types(document.event_types, changes)
            if document.tiers is not None:
                _apply_tiers(document.tiers, changes)
            if document.rules is not None:
                _apply_rules(document.rules, changes)
            _apply_rewards_sections(document, changes)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes


def _apply_rewards_sections(document: ProgramDocument, changes: list[str]) -> None:
    from rewards.services import program as rewards_program  # rewards builds on this module's _diff

    if document.coupon_templates is not None:
        rewards_program.apply_coupon_templates(document.coupon_templates, changes)
    if document.rewards is not None:
        rewards_program.apply_rewards(document.rewards, changes)
    if document.benefits is not None:
        rewards_program.apply_benefits(document.benefits, changes)


def _apply_settings(wanted: dict[str, Any], changes: list[str]) -> None:
    program = ProgramSettings.objects.select_for_update().get_or_create(pk=ProgramSettings.SINGLETON_PK)[0]
    changed = _diff("settings", program, wanted, changes)
    if changed:
        program.save(update_fields=[*changed, "updated_at"])


def _apply_event_types(wanted: list[dict[str, Any]], changes: list[str]) -> None:
    for item in wanted:
        event_type = EventType.objects.filter(code=item["code"]).first()
        if event_type is None:
            EventType.objects.create(**item)
            changes.append(f"event type {item['code']}: created")
            continue
        changed = _diff(f"event type {item['code']}", event_type, item, changes)
        if changed:
            event_type.save(update_fields=changed)


def _apply_tiers(wanted: list[dict[str, Any]], changes: list[str]) -> None:
    existing = {tier.code: tier for tier in Tier.objects.select_for_update()}
    wanted_codes = {item["code"] for item in wanted}
    _remove_tiers([tier for code, tier in existing.items() if code not in wanted_codes], changes)
    for offset, tier in enumerate(t for t in existing.values() if t.code in wanted_codes):
        Tier.objects.filter(pk=tier.pk).update(rank=_PARKED_RANK + offset, threshold=_PARKED_THRESHOLD + offset)
    for item in wanted:
        tier = existing.get(item["code"])
        if tier is None:
            Tier.objects.create(**item)
            changes.append(f"tier {item['code']}: created (rank {item['rank']}, threshold {item['threshold']})")
            continue
        if _diff(f"tier {item['code']}", tier, item, changes):
            tier.save()
        else:
            # Back from its parked rank and threshold, unchanged: nothing for the configuration history.
            tier.save_without_historical_record()


def _remove_tiers(unwanted: list[Tier], changes: list[str]) -> None:
    held = dict(
        Tier.objects.filter(pk__in=[t.pk for t in unwanted])
        .annotate(held_by=Count("members"))
        .values_list("code", "held_by")
    )
    blocked = {code: count for code, count in held.items() if count}
    if blocked:
        raise InvalidInput(
            "Tiers that members hold cannot be removed; keep them in the file or move the members first.",
            fields={"tiers": [f"{code} is held by {count} members." for code, count in blocked.items()]},
        )
    for tier in unwanted:
        try:
            tier.delete()
        except ProtectedError:
            raise InvalidInput(
                f"Tier {tier.code} appears in members' history or is a reward's minimum tier, and cannot be removed.",
                fields={"tiers": [f"{tier.code} is referred to."]},
            ) from None
        changes.append(f"tier {tier.code}: removed")


def _apply_rules(wanted: list[dict[str, Any]], changes: list[str]) -> None:
    known_types = set(EventType.objects.values_list("code", flat=True))
    unknown = {
        f"rules[{index}].event_type": [f"Unknown event type {item['event_type_id']!r}."]
        for index, item in enumerate(wanted)
        if item["event_type_id"] not in known_types
    }
    if unknown:
        raise InvalidInput("Rules name event types that do not exist (add them under event_types).", fields=unknown)
    existing = {rule.code: rule for rule in EarningRule.objects.select_for_update()}
    for item in wanted:
        rule = existing.get(item["code"])
        if rule is None:
            EarningRule.objects.create(**item)
            changes.append(f"rule {item['code']}: created")
            continue
        changed = _diff(f"rule {item['code']}", rule, item, changes)
        if changed:
            rule.save(update_fields=changed)
    wanted_codes = {item["code"] for item in wanted}
    # Rules are never deleted: ledger entries and limit counts refer to them.
    for code, rule in existing.items():
        if code not in wanted_codes and rule.is_active:
            rule.is_active = False
            rule.save(update_fields=["is_active"])
            changes.append(f"rule {code}: deactivated (not in the file)")
