"""The engine's sections of the program file (loyalty.extensions.program_sections): settings, event
types, tiers, rules, in that order (rules name event types)."""

from __future__ import annotations

from loyalty import extensions
from loyalty.extensions import ProgramSection
from loyalty.program_file import parse_event_types, parse_rules, parse_settings, parse_tiers
from loyalty.selectors import program as exports
from loyalty.services import program as applies


def register() -> None:
    sections = {
        "settings": ProgramSection(
            parse_settings, applies.apply_settings, exports.export_settings, "loyalty.change_programsettings"
        ),
        "event_types": ProgramSection(
            parse_event_types, applies.apply_event_types, exports.export_event_types, "loyalty.change_eventtype"
        ),
        "tiers": ProgramSection(parse_tiers, applies.apply_tiers, exports.export_tiers, "loyalty.change_tier"),
        "rules": ProgramSection(parse_rules, applies.apply_rules, exports.export_rules, "loyalty.change_earningrule"),
    }
    for order, (name, section) in enumerate(sections.items(), start=1):
        extensions.program_sections.register(name, section, order=order * 10)
