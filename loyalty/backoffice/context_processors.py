"""What the admin's header shows on every page."""

from __future__ import annotations

from loyalty.models import Adjustment

from .middleware import in_admin


def approvals(request) -> dict:
    """How many adjustments wait for approval, for whoever may approve them (a badge in the header
    and on the dashboard)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.is_staff or not in_admin(request):
        return {}
    if not user.has_perm("loyalty.approve_adjustment"):
        return {}
    return {"pending_approvals": Adjustment.objects.filter(status=Adjustment.Status.PENDING).count()}
