"""Celery tasks: beat starts run_scheduled_job, which fans a run's pending chunks out as a chord."""

import threading

from celery import chord, shared_task
from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty import outbox
from loyalty.models import JobRun
from loyalty.selectors.dashboard import refresh_dashboard
from loyalty.services.jobs import finish_chunks_here, finish_job_run, run_job_chunk, start_job_run


@shared_task(name="loyalty.run_scheduled_job")
def run_scheduled_job(job: str, as_of: str | None = None) -> int:
    """Start (or resume) the run of `job` for the current period and dispatch its pending chunks."""
    moment = parse_datetime(as_of) if as_of else None
    if as_of and (moment is None or timezone.is_naive(moment)):
        raise ValueError(f"as_of must be an ISO 8601 date-time with an offset, not {as_of!r}")
    run = start_job_run(job=job, as_of=moment)
    _fan_out(run)
    return run.pk


def _fan_out(run: JobRun) -> None:
    pending = list(run.chunks.filter(done=False).values_list("id", flat=True))
    if not pending:
        finish_job_run(run_id=run.pk)
    else:
        chord(run_job_chunk_task.si(chunk_id) for chunk_id in pending)(finish_job_run_task.si(run.pk))


def dispatch_run(run: JobRun) -> None:
    """Have a started run done in the background: by the Celery workers, or, with no broker (the
    demo), by a thread of this process, so the admin can follow its progress either way."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        _fan_out(run)
        return
    threading.Thread(target=_finish_in_thread, args=(run.pk,), name=f"job-run-{run.pk}", daemon=True).start()


def _finish_in_thread(run_id: int) -> None:
    try:
        finish_chunks_here(run=JobRun.objects.get(pk=run_id))
    finally:
        connection.close()  # the thread's own connection


@shared_task(name="loyalty.run_job_chunk", bind=True, acks_late=True, max_retries=3, default_retry_delay=10)
def run_job_chunk_task(self, chunk_id: int) -> bool:
    """One chunk. A worker that dies midway leaves the message unacknowledged (acks_late) and the
    chunk's transaction uncommitted, so the redelivered task simply does it again."""
    try:
        return run_job_chunk(chunk_id=chunk_id)
    except OperationalError as exc:  # a lost connection or a lock timeout: worth another go
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc) from exc
        return False
    except Exception:
        # Recorded on the chunk. Returning (never raising) lets the chord call finish_job_run_task,
        # which marks the run failed; running the job again resumes it.
        return False


@shared_task(name="loyalty.finish_job_run")
def finish_job_run_task(run_id: int) -> str:
    return finish_job_run(run_id=run_id).status


@shared_task(name="loyalty.refresh_dashboard")
def refresh_dashboard_task() -> None:
    """Recompute the admin dashboard's figures so page views never wait for the aggregates."""
    refresh_dashboard()


@shared_task(name="loyalty.relay_outbox", ignore_result=True)
def relay_outbox_task() -> int:
    """Hand the domain events to the subscribers (beat starts it every few seconds; a run that finds
    another relay numbering or delivering to a subscriber leaves that to it)."""
    return outbox.relay().delivered


@shared_task(name="loyalty.prune_outbox", ignore_result=True)
def prune_outbox_task() -> int:
    """Remove the domain events every subscriber has had, older than OUTBOX_RETENTION_DAYS."""
    return outbox.prune_delivered()
