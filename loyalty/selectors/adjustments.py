"""Reads about manual adjustments."""

from __future__ import annotations

from loyalty.models import Adjustment


def has_decision_notices(*, requester) -> bool:
    """Whether someone else decided one of the requester's adjustments since they were last told: a
    plain read every admin page can afford (the partial index adjustment_to_notify_idx), so that the
    write that marks them told happens only when there is something to tell."""
    return (
        Adjustment.objects.filter(requested_by=requester, requester_notified=False)
        .exclude(status=Adjustment.Status.PENDING)
        .exists()
    )
