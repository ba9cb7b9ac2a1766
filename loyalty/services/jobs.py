"""Running a scheduled job: one JobRun per (job, period), fanned out over member-id chunks that each
commit in one transaction together with their own "done" mark, so a run can be resumed and never
writes anything twice."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from loyalty import extensions
from loyalty.extensions import ChunkResult
from loyalty.models import JobChunk, JobRun, ProgramSettings
from members.errors import InvalidInput
from members.outbox import publish
from members.permissions import require_permission


def period_key(job: str, as_of: datetime) -> str:
    """The period a run belongs to, in the program's time zone (the job's period_format: monthly for
    tier recalculation, daily for expiry, hourly for releasing pending points, ...)."""
    check_job_name(job)
    local = as_of.astimezone(ProgramSettings.current().zone)
    return local.strftime(extensions.jobs[job].period_format)


def check_job_name(job: str) -> None:
    if job not in extensions.jobs:
        names = ", ".join(extensions.jobs.names())
        raise InvalidInput(f"Unknown job {job!r}; one of: {names}.", fields={"job": ["Unknown job."]})


def chunk_ranges(chunk_size: int) -> list[tuple[int, int]]:
    """Member-id ranges of about chunk_size members each, covering every member."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS position FROM members_member) AS ordered
               WHERE (position - 1) %% %s = 0 ORDER BY id""",
            [chunk_size],
        )
        starts = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT MAX(id) FROM members_member")
        last_id = cursor.fetchone()[0]
    return [(start, nxt - 1) for start, nxt in zip(starts, starts[1:], strict=False)] + (
        [(starts[-1], last_id)] if starts else []
    )


@transaction.atomic
def start_job_run(
    *, job: str, as_of: datetime | None = None, chunk_size: int | None = None, dry_run: bool = False, started_by=None
) -> JobRun:
    """The run of `job` for the period of `as_of` (default now), created with its chunks on first call.
    Calling it again for the same period returns the same run (and its as_of) to be resumed.
    A dry run is always a new run of its own: its chunks do the work and roll it back. A staff
    `started_by` needs loyalty.run_job."""
    require_permission(started_by, "loyalty.run_job", "You may not run jobs.")
    check_job_name(job)
    as_of = as_of or timezone.now()
    period = period_key(job, as_of)
    if dry_run:
        run, created = (
            JobRun.objects.create(job=job, period=period, as_of=as_of, dry_run=True, started_by=started_by),
            True,
        )
    else:
        run, created = JobRun.objects.select_for_update().get_or_create(
            job=job, period=period, dry_run=False, defaults={"as_of": as_of, "started_by": started_by}
        )
    if created:
        ranges = chunk_ranges(chunk_size or settings.LOYALTY_JOB_CHUNK_SIZE)
        JobChunk.objects.bulk_create(JobChunk(run=run, first_member_id=a, last_member_id=b) for a, b in ranges)
        run.chunks_total = len(ranges)
        run.save(update_fields=["chunks_total"])
    elif run.status == JobRun.Status.FAILED:
        run.status, run.error = JobRun.Status.RUNNING, ""
        run.save(update_fields=["status", "error"])
    return run


def _execute(run: JobRun, chunk: JobChunk) -> ChunkResult:
    job = extensions.jobs[run.job]
    return job.run_chunk(chunk.first_member_id, chunk.last_member_id, run.as_of, period=run.period, run_id=run.pk)


def without_jit() -> None:
    """A chunk's statements are short index-driven passes that PostgreSQL's cost model still
    JIT-compiles: 10-40 ms of compiling per statement, more than some statements take to run."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


class _RolledBack(Exception):
    """Leaves a dry run's chunk transaction, undoing what the chunk wrote."""

    def __init__(self, result: ChunkResult):
        self.result = result


def _execute_and_roll_back(run: JobRun, chunk: JobChunk) -> ChunkResult:
    try:
        with transaction.atomic():
            raise _RolledBack(_execute(run, chunk))
    except _RolledBack as rolled_back:
        return rolled_back.result


def run_job_chunk(*, chunk_id: int) -> bool:
    """Do one chunk in one transaction; a chunk already done is skipped. Returns whether it is done.
    A failure is recorded on the chunk and re-raised; nothing of the chunk is written."""
    try:
        with transaction.atomic():
            # of=("self",): lock the chunk row only; locking the joined run row too would make every
            # chunk of the run wait for the others, one worker at a time.
            chunk = JobChunk.objects.select_for_update(of=("self",)).select_related("run").get(pk=chunk_id)
            if chunk.done:
                return True
            without_jit()
            execute = _execute_and_roll_back if chunk.run.dry_run else _execute
            result = execute(chunk.run, chunk)
            chunk.done, chunk.finished_at = True, timezone.now()
            chunk.members_changed, chunk.entries_written = result.members_changed, result.entries_written
            chunk.attempts += 1
            chunk.error = ""
            chunk.save()
            JobRun.objects.filter(pk=chunk.run_id).update(
                chunks_done=F("chunks_done") + 1,
                members_changed=F("members_changed") + result.members_changed,
                entries_written=F("entries_written") + result.entries_written,
            )
            return True
    except Exception as exc:
        JobChunk.objects.filter(pk=chunk_id).update(attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}")
        raise


@transaction.atomic
def finish_job_run(*, run_id: int) -> JobRun:
    """Mark the run done when every chunk is, failed otherwise (run the job again to resume)."""
    run = JobRun.objects.select_for_update().get(pk=run_id)
    if run.status == JobRun.Status.DONE:
        return run
    failed = run.chunks.filter(done=False)
    if failed.exists():
        run.status = JobRun.Status.FAILED
        run.error = f"{failed.count()} of {run.chunks_total} chunks not done: " + "; ".join(
            filter(None, failed.values_list("error", flat=True)[:3])
        )
    else:
        run.status, run.error = JobRun.Status.DONE, ""
        job = extensions.jobs[run.job]
        if run.dry_run:
            run.summary = job.preview(run.as_of)
        elif job.on_finish is not None:
            job.on_finish(run=run)
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "summary"])
    if not run.dry_run:
        finished = {
            "job": run.job,
            "run_id": run.pk,
            "period": run.period,
            "status": run.status,
            "members_changed": run.members_changed,
            "entries_written": run.entries_written,
        }
        publish("job.finished", member=None, payload=finished, occurred_at=run.finished_at)
    return run


def run_job_now(
    *, job: str, as_of: datetime | None = None, chunk_size: int | None = None, dry_run: bool = False
) -> JobRun:
    """Run (or resume) a job in this process, chunk after chunk: the demo and `run_job --sync`."""
    run = start_job_run(job=job, as_of=as_of, chunk_size=chunk_size, dry_run=dry_run)
    return finish_chunks_here(run=run)


def finish_chunks_here(*, run: JobRun) -> JobRun:
    """Do a run's pending chunks in this process, then finish it."""
    for chunk_id in run.chunks.filter(done=False).values_list("id", flat=True):
        try:
            run_job_chunk(chunk_id=chunk_id)
        except Exception:  # recorded on the chunk; finish_job_run reports the run as failed
            continue
    return finish_job_run(run_id=run.pk)
