"""Jobs from the admin: start a run or a dry run now, and follow its progress without reloading."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loyalty import extensions
from loyalty.models import JobRun
from loyalty.services.jobs import start_job_run
from loyalty.tasks import dispatch_run

PROGRESS_FIELDS = ("id", "status", "chunks_done", "chunks_total", "members_changed", "entries_written", "error")
MAX_POLLED = 50


@require_POST
def start(request, job: str, mode: str):
    if not request.user.has_perm("loyalty.run_job"):
        raise PermissionDenied
    if job not in extensions.jobs or mode not in ("run", "dry-run"):
        raise Http404
    run = start_job_run(job=job, dry_run=mode == "dry-run", started_by=request.user)
    if run.status == JobRun.Status.DONE:
        messages.info(request, _("%(job)s is already done for %(period)s.") % {"job": job, "period": run.period})
    else:
        dispatch_run(run)
        started = _("%(job)s dry run started.") if run.dry_run else _("%(job)s started.")
        messages.success(request, started % {"job": job})
    return redirect(reverse("admin:loyalty_jobrun_change", args=[run.pk]))


@require_GET
def progress(request):
    """The runs' progress as JSON, for the pages' polling script."""
    if not request.user.has_perm("loyalty.view_jobrun"):
        raise PermissionDenied
    try:
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part][:MAX_POLLED]
    except ValueError:
        return JsonResponse(
            {"error": {"code": "validation_error", "message": "ids: comma-separated integers."}}, status=400
        )
    runs = JobRun.objects.filter(pk__in=ids).values(*PROGRESS_FIELDS, "summary")
    return JsonResponse({"runs": list(runs)})
