"""The campaigns app's models: targeting (tags and segments, docs/segments.md) and campaigns
(docs/campaigns.md). Every write goes through campaigns.services."""

from .campaigns import BudgetCounter, Campaign, CampaignAssignment, CampaignGrant, CampaignVersion
from .targeting import (
    CODE_HELP,
    MemberTag,
    PendingRefresh,
    Segment,
    SegmentMember,
    SegmentVersion,
    Tag,
    TagChange,
    TagSource,
)

__all__ = [
    "CODE_HELP",
    "BudgetCounter",
    "Campaign",
    "CampaignAssignment",
    "CampaignGrant",
    "CampaignVersion",
    "MemberTag",
    "PendingRefresh",
    "Segment",
    "SegmentMember",
    "SegmentVersion",
    "Tag",
    "TagChange",
    "TagSource",
]
