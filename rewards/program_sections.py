"""The rewards' sections of the program file, after the engine's: coupon templates, rewards (which
name templates) and benefits (which name templates and tiers)."""

from __future__ import annotations

from loyalty import extensions
from loyalty.extensions import ProgramSection

from . import program_file, selectors
from .services import program


def register() -> None:
    sections = {
        "coupon_templates": ProgramSection(
            program_file.parse_coupon_templates,
            program.apply_coupon_templates,
            selectors.export_coupon_templates,
            "rewards.change_coupontemplate",
        ),
        "rewards": ProgramSection(
            program_file.parse_rewards, program.apply_rewards, selectors.export_rewards, "rewards.change_reward"
        ),
        "benefits": ProgramSection(
            program_file.parse_benefits, program.apply_benefits, selectors.export_benefits, "rewards.change_benefit"
        ),
    }
    for order, (name, section) in enumerate(sections.items(), start=1):
        extensions.program_sections.register(name, section, order=100 + order * 10)
