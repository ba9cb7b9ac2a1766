"""The campaigns app's writes: tags on members, segments and their refresh (docs/segments.md)."""

from .refresh import refresh_scope
from .segments import freeze_segment, refresh_everything, refresh_segment, save_segment, upload_static_segment
from .tags import tag_member, tag_members, untag_member, untag_members

__all__ = [
    "freeze_segment",
    "refresh_everything",
    "refresh_scope",
    "refresh_segment",
    "save_segment",
    "tag_member",
    "tag_members",
    "untag_member",
    "untag_members",
    "upload_static_segment",
]
