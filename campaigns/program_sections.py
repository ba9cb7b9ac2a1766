"""The campaigns' sections of the program file (docs/program-file.md): `tags` (rule tags with their
definitions), `segments` (dynamic segments; a changed definition is a new version) and `campaigns`
(campaigns.program_campaigns). Applied after the engine's and the rewards' sections; tags before
segments, which may name them, and both before campaigns."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import OuterRef, Subquery

from loyalty import extensions
from loyalty.extensions import ProgramSection
from loyalty.program_file import (
    ProgramErrors,
    code_value,
    object_list,
    text_value,
    unique_codes,
    whole_number,
)
from loyalty.services.configuration import writer_for
from loyalty.services.program import assign

from . import definitions, program_campaigns
from .models import Segment, SegmentVersion, Tag
from .services.segments import save_segment

TAG_KEYS = {"code", "name", "group", "colour", "kind", "definition", "ttl_days", "api_writable", "active"}
SEGMENT_KEYS = {"code", "name", "description", "kind", "definition"}


def _definition(errors: ProgramErrors, path: str, raw: Any) -> Any:
    try:
        definitions.parse(raw)
    except definitions.InvalidDefinition as invalid:
        for where, messages in invalid.problems.items():
            for message in messages:
                errors.add(f"{path}.{where}", message)
    return raw


def _flag(errors: ProgramErrors, path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        errors.add(path, "Must be true or false.")
        return False
    return value


def parse_tags(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "tags", raw)):
        path = f"tags[{index}]"
        errors.unknown_keys(path, item, TAG_KEYS)
        kind = item.get("kind", Tag.Kind.MANUAL)
        if kind not in Tag.Kind.values:
            errors.add(f"{path}.kind", f"One of {', '.join(Tag.Kind.values)}.")
        ttl = item.get("ttl_days")
        items.append(
            {
                "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
                "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128, required=True),
                "group": text_value(errors, f"{path}.group", item.get("group", ""), max_length=32),
                "colour": text_value(errors, f"{path}.colour", item.get("colour", "#64748b"), max_length=7),
                "kind": kind,
                "definition": _definition(errors, f"{path}.definition", item["definition"])
                if kind == Tag.Kind.RULE and "definition" in item
                else None,
                "ttl_days": None if ttl is None else whole_number(errors, f"{path}.ttl_days", ttl, minimum=1),
                "api_writable": _flag(errors, f"{path}.api_writable", item.get("api_writable", False)),
                "active": _flag(errors, f"{path}.active", item.get("active", True)),
            }
        )
        if kind == Tag.Kind.RULE and "definition" not in item:
            errors.add(f"{path}.definition", "A rule tag needs a definition.")
        if kind == Tag.Kind.MANUAL and item.get("definition") is not None:
            errors.add(f"{path}.definition", "Only a rule tag has a definition.")
    unique_codes(errors, "tags", items)
    return items


def parse_segments(errors: ProgramErrors, raw: Any) -> list[dict]:
    items = []
    for index, item in enumerate(object_list(errors, "segments", raw)):
        path = f"segments[{index}]"
        errors.unknown_keys(path, item, SEGMENT_KEYS)
        if item.get("kind", Segment.Kind.DYNAMIC) != Segment.Kind.DYNAMIC:
            errors.add(f"{path}.kind", "The program file holds dynamic segments only (uploads and snapshots are data).")
        items.append(
            {
                "code": code_value(errors, f"{path}.code", item.get("code"), max_length=64),
                "name": text_value(errors, f"{path}.name", item.get("name"), max_length=128, required=True),
                "description": text_value(errors, f"{path}.description", item.get("description", ""), max_length=2000),
                "definition": _definition(errors, f"{path}.definition", item.get("definition")),
            }
        )
    unique_codes(errors, "segments", items)
    return items


def apply_tags(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    """Create or change each tag through its writer; a tag not in the file is deactivated."""
    writer = writer_for(Tag)
    existing = {row.code: row for row in Tag.objects.select_for_update()}
    for item in wanted:
        row = existing.get(item["code"]) or Tag()
        changes += writer.save(assign(row, item), actor=actor, fields=item).changes
    for code, row in existing.items():
        if code not in {item["code"] for item in wanted} and row.active:
            row.active = False
            writer.save(row, actor=actor, fields=["active"])
            changes.append(f"tag {code}: deactivated (not in the file)")


def apply_segments(wanted: list[dict[str, Any]], changes: list[str], actor) -> None:
    """Each dynamic segment saved (a changed definition: a new version, computed); one not in the
    file is deactivated."""
    current = {
        segment.code: segment
        for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).select_related("current_version")
    }
    for item in wanted:
        before = current.get(item["code"])
        segment = save_segment(actor=actor, **item)
        if before is None:
            changes.append(f"segment {segment.code}: created ({segment.current.member_count} members)")
        elif before.current_version_id != segment.current_version_id:
            changes.append(
                f"segment {segment.code}: definition changed, version {segment.current.number} "
                f"({segment.current.member_count} members)"
            )
        elif (before.name, before.description) != (segment.name, segment.description):
            changes.append(f"segment {segment.code}: name or description changed")
    for code, segment in current.items():
        if code not in {item["code"] for item in wanted} and segment.active:
            Segment.objects.filter(pk=segment.pk).update(active=False)
            changes.append(f"segment {code}: deactivated (not in the file)")


def export_tags() -> list[dict]:
    return [
        {
            "code": tag.code,
            "name": tag.name,
            "group": tag.group,
            "colour": tag.colour,
            "kind": tag.kind,
            **({"definition": tag.definition} if tag.kind == Tag.Kind.RULE else {}),
            "ttl_days": tag.ttl_days,
            "api_writable": tag.api_writable,
            "active": tag.active,
        }
        for tag in Tag.objects.order_by("code")
    ]


def export_segments() -> list[dict]:
    """Each active dynamic segment with its newest definition (the one saved last, even while its
    members are still being computed)."""
    newest = SegmentVersion.objects.filter(segment=OuterRef("pk")).order_by("-number").values("definition")[:1]
    segments = Segment.objects.filter(kind=Segment.Kind.DYNAMIC, active=True).annotate(
        newest_definition=Subquery(newest, output_field=models.JSONField())
    )
    return [
        {
            "code": segment.code,
            "name": segment.name,
            "description": segment.description,
            "kind": segment.kind,
            "definition": segment.newest_definition,
        }
        for segment in segments.order_by("code")
    ]


def register() -> None:
    extensions.program_sections.register(
        "tags", ProgramSection(parse_tags, apply_tags, export_tags, "campaigns.change_tag"), order=200
    )
    extensions.program_sections.register(
        "segments",
        ProgramSection(parse_segments, apply_segments, export_segments, "campaigns.change_segment"),
        order=210,
    )
    extensions.program_sections.register(
        "campaigns",
        ProgramSection(
            program_campaigns.parse_campaigns,
            program_campaigns.apply_campaigns,
            program_campaigns.export_campaigns,
            "campaigns.change_campaign",
        ),
        order=220,
    )
