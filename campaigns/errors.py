"""The campaigns app's business errors (members.errors holds the base class)."""

from members.errors import LoyaltyError


class UnknownTag(LoyaltyError):
    code = "unknown_tag"


class UnknownSegment(LoyaltyError):
    code = "unknown_segment"
    http_status = 404


class TagKeptByRule(LoyaltyError):
    """A rule tag is set and taken off only by its rule's refresh."""

    code = "tag_kept_by_rule"
