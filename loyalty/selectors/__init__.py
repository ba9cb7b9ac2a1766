"""Reads that are more than a .get()."""

from .jobs import preview_job
from .members import MemberCard, expiring_points, growth_ledger, member_card, points_ledger, tier_history
from .program import export_program

__all__ = [
    "MemberCard",
    "expiring_points",
    "export_program",
    "growth_ledger",
    "member_card",
    "points_ledger",
    "preview_job",
    "tier_history",
]
