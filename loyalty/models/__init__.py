from . import history  # noqa: F401  registers the configuration history
from .adjustments import Adjustment, AdjustmentReason, ApprovalLimitChange
from .events import BUILTIN_EVENT_TYPES, Event, EventType, RuleHit
from .jobs import JobChunk, JobRun
from .ledgers import GrowthAllocation, GrowthEntry, PointsAllocation, PointsEntry
from .outbox import OutboxNumbering, OutboxSubscriber
from .program import ExpiryPolicy, ProgramSettings
from .rfm import MemberRFM
from .rules import EarningRule
from .storefronts import Storefront, StorefrontAPIKey
from .summaries import ClimbSummary, PointsFlowSummary, RuleUseSummary, SpendSummary, TierSizeSummary
from .tiers import Tier, TierChange

__all__ = [
    "Adjustment",
    "AdjustmentReason",
    "ApprovalLimitChange",
    "ClimbSummary",
    "EarningRule",
    "Event",
    "BUILTIN_EVENT_TYPES",
    "EventType",
    "ExpiryPolicy",
    "GrowthAllocation",
    "GrowthEntry",
    "JobChunk",
    "JobRun",
    "MemberRFM",
    "OutboxNumbering",
    "OutboxSubscriber",
    "PointsAllocation",
    "PointsEntry",
    "PointsFlowSummary",
    "ProgramSettings",
    "RuleHit",
    "RuleUseSummary",
    "SpendSummary",
    "Storefront",
    "StorefrontAPIKey",
    "Tier",
    "TierChange",
    "TierSizeSummary",
]
