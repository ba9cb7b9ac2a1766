"""What every admin page needs: times in the program's time zone, and the requester's notices of
decisions on their adjustments."""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.config import current_config
from loyalty.models import Adjustment
from loyalty.selectors.adjustments import has_decision_notices
from loyalty.services.adjustments import take_decision_notices


def in_admin(request) -> bool:
    return request.path_info.startswith(reverse("admin:index"))


def staff_viewing_admin(request) -> bool:
    """A GET of an admin page by an active staff member: where a notice may be shown."""
    user = getattr(request, "user", None)
    return request.method == "GET" and user is not None and user.is_active and user.is_staff and in_admin(request)


class ProgramTimeZone:
    """The admin shows times in the zone the program counts its days in (ProgramSettings.timezone);
    the API keeps answering in UTC with offsets."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not in_admin(request):
            return self.get_response(request)
        timezone.activate(current_config().settings.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class DecisionNotices:
    """Someone else approved or rejected your adjustment: told on your next admin page, once."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if staff_viewing_admin(request) and has_decision_notices(requester=request.user):
            for adjustment in take_decision_notices(requester=request.user):
                messages.info(request, _notice(adjustment))
        return self.get_response(request)


def _notice(adjustment: Adjustment) -> str:
    values = {
        "amount": adjustment.amount,
        "kind": adjustment.get_kind_display(),
        "member": adjustment.member,
        "decider": adjustment.decided_by,
        "note": adjustment.decision_note,
    }
    if adjustment.status == Adjustment.Status.APPLIED:
        text = _("Your adjustment %(amount)+d %(kind)s for %(member)s was approved by %(decider)s.") % values
    else:
        text = _("Your adjustment %(amount)+d %(kind)s for %(member)s was rejected by %(decider)s.") % values
    return f"{text} {values['note']}".strip() if values["note"] else text
