"""Reads of notifications for the admin."""

from __future__ import annotations

from dataclasses import dataclass

from members.models import Member

from .kinds import kinds
from .models import Notification
from .reasons import reason_text

SHOWN_ON_MEMBER_PAGE = 10


@dataclass(frozen=True)
class NotificationRow:
    notification: Notification
    kind: str
    reason: str


def member_panel(member: Member) -> list[NotificationRow]:
    """The member page's latest notifications (loyalty.extensions.member_panels), with the kind and
    the reason in the reader's language."""
    latest = Notification.objects.filter(member=member).order_by("-created_at", "-id")[:SHOWN_ON_MEMBER_PAGE]
    return [
        NotificationRow(
            notification=row,
            kind=str(kinds[row.kind].label) if row.kind in kinds else row.kind,
            reason=reason_text(row.reason) if row.reason else "",
        )
        for row in latest
    ]
