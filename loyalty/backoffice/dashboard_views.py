from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty.models import JobRun
from loyalty.selectors.dashboard import DASHBOARD_PERMISSION, as_chart_data, dashboard, refresh_dashboard

LATEST_RUNS = 8


def context(request) -> dict:
    snapshot = dashboard()
    return {
        "dashboard": snapshot,
        "chart_data": as_chart_data(snapshot),
        "latest_runs": JobRun.objects.order_by("-started_at", "-id")[:LATEST_RUNS],
    }


@require_POST
def refresh(request):
    if not request.user.has_perm(DASHBOARD_PERMISSION):
        raise PermissionDenied
    refresh_dashboard(actor=request.user)
    messages.success(request, _("The dashboard figures were recomputed."))
    return redirect("admin:index")
