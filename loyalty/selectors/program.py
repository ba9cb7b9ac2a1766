"""The program as it is configured now, in the program-file format."""

from __future__ import annotations

from typing import Any

from loyalty import extensions
from loyalty.models import EarningRule, EventType, ProgramSettings, Tier
from loyalty.models.program import ExpiryPolicy
from loyalty.program_file import decimal_text


def export_program() -> dict[str, Any]:
    """Every registered section of the program file (loyalty.extensions.program_sections)."""
    return {name: section.export() for name, section in extensions.program_sections.items()}


def export_settings() -> dict[str, Any]:
    program = ProgramSettings.current()
    return {
        "currency": program.currency,
        "timezone": program.timezone,
        "point_value": decimal_text(program.point_value),
        "pending_days": program.pending_days,
        "points_expiry": _expiry_json(program.points_expiry_policy, program.points_expiry_months),
        "growth_window": _expiry_json(program.growth_window_policy, program.growth_window_months),
        "downgrade": program.downgrade_policy,
        "growth_mode": program.growth_mode,
        "target_value_per_point": decimal_text(program.target_value_per_point),
        "hold_minutes": program.hold_minutes,
        "return_downgrade": program.return_downgrade,
        "max_event_age_days": program.max_event_age_days,
        "max_total_multiplier": decimal_text(program.max_total_multiplier),
        "campaign_approval_limit": program.campaign_approval_limit,
        "global_control_percent": program.global_control_percent,
    }


def export_event_types() -> list[dict[str, Any]]:
    return [
        {"code": t.code, "name": t.name, "description": t.description}
        for t in EventType.objects.filter(is_builtin=False).order_by("code")
    ]


def export_tiers() -> list[dict[str, Any]]:
    return [
        {
            "code": t.code,
            "name": t.name,
            "rank": t.rank,
            "threshold": t.threshold,
            "points_multiplier": decimal_text(t.points_multiplier),
            "description": t.description,
        }
        for t in Tier.objects.order_by("rank")
    ]


def export_rules() -> list[dict[str, Any]]:
    return [_rule_json(rule) for rule in EarningRule.objects.order_by("code")]


def _expiry_json(policy: str, months: int) -> dict[str, Any]:
    return {"policy": policy, "months": months} if policy == ExpiryPolicy.ROLLING_MONTHS else {"policy": policy}


def _rule_json(rule: EarningRule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "event_type": rule.event_type_id,
        "name": rule.name,
        "growth": rule.growth,
        "points": rule.points,
        "growth_per_unit": decimal_text(rule.growth_per_unit),
        "points_per_unit": decimal_text(rule.points_per_unit),
        "apply_tier_multiplier": rule.apply_tier_multiplier,
        "daily_limit": rule.daily_limit,
        "lifetime_limit": rule.lifetime_limit,
        "starts_at": rule.starts_at.isoformat() if rule.starts_at else None,
        "ends_at": rule.ends_at.isoformat() if rule.ends_at else None,
        "active": rule.is_active,
        "description": rule.description,
    }
