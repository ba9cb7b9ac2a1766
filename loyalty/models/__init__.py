from . import history  # noqa: F401  registers the configuration history
from .adjustments import Adjustment, AdjustmentReason, ApprovalLimitChange
from .events import Event, EventType, RuleHit
from .jobs import JobChunk, JobRun
from .ledgers import GrowthAllocation, GrowthEntry, PointsAllocation, PointsEntry
from .program import ExpiryPolicy, ProgramSettings
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
    "EventType",
    "ExpiryPolicy",
    "GrowthAllocation",
    "GrowthEntry",
    "JobChunk",
    "JobRun",
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
