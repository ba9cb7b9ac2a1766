"""Jobs from the admin: start a run or a dry run now, and follow its progress without reloading."""

from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loyalty import extensions, job_summaries
from loyalty.calculations import next_period_start
from loyalty.config import current_config
from loyalty.models import JobRun
from loyalty.services.jobs import start_job_run
from loyalty.tasks import dispatch_run

PROGRESS_FIELDS = ("id", "status", "chunks_done", "chunks_total", "members_changed", "entries_written", "error")
MAX_POLLED = 50


# How far from now a dry run may look: a year covers every period a job has.
DRY_RUN_REACH = timedelta(days=366)


@require_POST
def start(request, job: str, mode: str):
    """Run a job for the current period, or dry-run it as of a moment the operator picks (the form
    offers the start of the next period: right after its run, a dry run of this one says nothing)."""
    if not request.user.has_perm("loyalty.run_job"):
        raise PermissionDenied
    if job not in extensions.jobs or mode not in ("run", "dry-run"):
        raise Http404
    label = str(extensions.jobs[job].label)
    as_of = None
    if mode == "dry-run" and request.POST.get("as_of"):
        as_of = _moment(request.POST["as_of"])
        if as_of is None:
            messages.error(request, _("Give the dry run's moment as a date and time within a year from now."))
            return redirect("admin:loyalty_jobrun_changelist")
    run = start_job_run(job=job, as_of=as_of, dry_run=mode == "dry-run", started_by=request.user)
    if run.status == JobRun.Status.DONE:
        messages.info(request, _("%(job)s is already done for %(period)s.") % {"job": label, "period": run.period})
    else:
        dispatch_run(run)
        started = _("Dry run of “%(job)s” started.") if run.dry_run else _("“%(job)s” started.")
        messages.success(request, started % {"job": label})
    return redirect(reverse("admin:loyalty_jobrun_change", args=[run.pk]))


def _moment(text: str) -> datetime | None:
    """A datetime-local value ("2027-01-01T00:00") in the program's zone, within DRY_RUN_REACH."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=current_config().settings.zone)
    return moment if abs(moment - timezone.now()) <= DRY_RUN_REACH else None


def job_choices(now: datetime) -> list[dict]:
    """Every registered job for the "Run a job now" panel: its name, what it does, and the start of
    its next period (the dry run's default moment, in the program's zone, as the input takes it)."""
    zone = current_config().settings.zone
    return [
        {
            "code": code,
            "label": job.label,
            "description": job.description,
            "next_period": next_period_start(job.period_format, now, zone).strftime("%Y-%m-%dT%H:%M"),
        }
        for code, job in extensions.jobs.items()
    ]


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
    return JsonResponse(
        {"runs": [{**run, "summary": [job_summaries.render(item) for item in run["summary"]]} for run in runs]}
    )
