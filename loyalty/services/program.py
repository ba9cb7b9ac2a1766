"""Applying a program file in one transaction: each section present, in the registered order
(loyalty.extensions.program_sections), through the configuration writers. The engine's sections are
here: settings, event types, the tier ladder and the earning rules. Existing members keep their tier
until they earn (upgrade) or the scheduled recalculation runs, so a new ladder never silently moves
anyone."""

from __future__ import annotations

import copy
from typing import Any

from django.db import transaction
from django.db.models import Count, ProtectedError

from loyalty import extensions
from loyalty.models import EarningRule, EventType, ProgramSettings, Tier
from loyalty.program_file import ProgramDocument
from members.errors import InvalidInput, NotPermitted

from .configuration import writer_for

# Ranks and thresholds are unique, so a reordered ladder is parked on values no real tier uses first.
_PARKED_RANK = 30_000
_PARKED_THRESHOLD = 2_000_000_000


class _DryRun(Exception):
    pass


def apply_program(*, document: ProgramDocument, dry_run: bool = False, actor=None) -> list[str]:
    """Apply the document and return the changes made, one line each. With dry_run, the same
    changes are worked out against the database and rolled back. A staff `actor` needs the change
    permission of every section the document changes: a whole exported file can be uploaded by
    someone allowed to change only its settings, as long as the other sections are as they were.
    A present section is the whole desired state, so an empty list is a change like any other."""
    changes: list[str] = []
    refused: list[str] = []
    try:
        with transaction.atomic():
            for name, section in extensions.program_sections.items():
                if name not in document:
                    continue
                before = len(changes)
                try:
                    with transaction.atomic():  # the writers check their models' permissions too
                        section.apply(document[name], changes, actor)
                except NotPermitted:
                    refused.append(name)
                    continue
                if len(changes) > before and actor is not None and not actor.has_perm(section.permission):
                    refused.append(name)
            if refused:
                raise NotPermitted(
                    f"You may not change these parts of the program: {', '.join(refused)}.",
                    fields={name: ["You may not change this section."] for name in refused},
                )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return changes


def assign(instance, wanted: dict[str, Any]):
    """`instance` with the wanted values set (what a section saves through its writer)."""
    for name, value in wanted.items():
        setattr(instance, name, value)
    return instance


def apply_settings(wanted: dict[str, Any], changes: list[str], actor) -> None:
    ProgramSettings.current()  # the row exists from then on
    program = ProgramSettings.objects.select_for_update().get(pk=ProgramSettings.SINGLETON_PK)
    changes += writer_for(ProgramSettings).save(assign(program, wanted), actor=actor, fields=wanted).changes


def apply_event_types(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    writer = writer_for(EventType)
    existing = {
        event_type.code: event_type for event_type in EventType.objects.filter(code__in=[i["code"] for i in wanted])
    }
    for item in wanted:
        event_type = existing.get(item["code"]) or EventType(code=item["code"])
        changes += writer.save(assign(event_type, item), actor=actor, fields=item).changes


def apply_tiers(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    """The ladder as a whole, checked as a whole when the file was read. Ranks and thresholds are
    unique, so the tiers are first parked on values no tier keeps, then moved to their new places;
    each is then saved through its writer (`checked`: the ladder was; `before`: the tier as it was)."""
    writer = writer_for(Tier)
    existing = {tier.code: tier for tier in Tier.objects.select_for_update()}
    wanted_codes = {item["code"] for item in wanted}
    _remove_tiers([tier for code, tier in existing.items() if code not in wanted_codes], changes)
    kept = [tier for tier in existing.values() if tier.code in wanted_codes]
    for offset, tier in enumerate(kept):
        Tier.objects.filter(pk=tier.pk).update(rank=_PARKED_RANK + offset, threshold=_PARKED_THRESHOLD + offset)
    for item in wanted:
        if item["code"] in existing:
            Tier.objects.filter(code=item["code"]).update(rank=item["rank"], threshold=item["threshold"])
    for item in wanted:
        stored = existing.get(item["code"])
        if stored is None:
            changes += writer.save(Tier(**item), actor=actor, checked=True).changes
        else:
            before = copy.copy(stored)
            changes += writer.save(assign(stored, item), actor=actor, fields=item, checked=True, before=before).changes


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


def apply_rules(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    known_types = set(EventType.objects.values_list("code", flat=True))
    unknown = {
        f"rules[{index}].event_type": [f"Unknown event type {item['event_type_id']!r}."]
        for index, item in enumerate(wanted)
        if item["event_type_id"] not in known_types
    }
    if unknown:
        raise InvalidInput("Rules name event types that do not exist (add them under event_types).", fields=unknown)
    writer = writer_for(EarningRule)
    existing = {rule.code: rule for rule in EarningRule.objects.select_for_update()}
    for item in wanted:
        rule = existing.get(item["code"]) or EarningRule()
        changes += writer.save(assign(rule, item), actor=actor, fields=item).changes
    wanted_codes = {item["code"] for item in wanted}
    # Rules are never deleted: ledger entries and limit counts refer to them.
    for code, rule in existing.items():
        if code not in wanted_codes and rule.is_active:
            rule.is_active = False
            writer.save(rule, actor=actor, fields=["is_active"])
            changes.append(f"rule {code}: deactivated (not in the file)")
