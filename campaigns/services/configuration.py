"""The campaigns' configuration writers (loyalty.services.configuration): tags are saved, by the
admin, imports and the program file alike, through one writer that checks a rule tag's definition."""

from __future__ import annotations

from loyalty import extensions
from loyalty.services.configuration import ConfigWriter
from members.errors import InvalidInput

from ..models import Tag
from .segments import check_definition


def _definition_fits_kind(tag: Tag) -> None:
    if tag.kind == Tag.Kind.RULE:
        check_definition(tag.definition)
    elif tag.definition is not None:
        raise InvalidInput("Only a rule tag has a definition.", fields={"definition": ["Only for rule tags."]})
    if tag.kind == Tag.Kind.RULE and (tag.ttl_days or tag.api_writable):
        raise InvalidInput(
            "A rule tag is kept by its rule: no time to live, not set by storefronts.",
            fields={"kind": ["A rule tag has no time to live and is not writable by storefronts."]},
        )


def register() -> None:
    writer = ConfigWriter(Tag, "tag", checks=[_definition_fits_kind])
    extensions.config_writers.register(writer.model._meta.label, writer)
