"""The one way in: every change to loyalty state goes through these functions."""

from .enrolment import enrol_member
from .event_batch import record_events, record_storefront_event
from .events import EventOutcome, record_event, record_event_body
from .growth import adjust_growth, expire_growth
from .points import adjust_points, expire_points, refund_spend, release_pending_points, spend_points
from .tiers import change_tier_manually, recalculate_member_tier, recalculate_tier_now

__all__ = [
    "EventOutcome",
    "adjust_growth",
    "adjust_points",
    "change_tier_manually",
    "enrol_member",
    "expire_growth",
    "expire_points",
    "recalculate_member_tier",
    "recalculate_tier_now",
    "record_event",
    "record_event_body",
    "record_events",
    "record_storefront_event",
    "refund_spend",
    "release_pending_points",
    "spend_points",
]
