from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty import extensions, job_summaries
from loyalty.selectors import preview_job
from loyalty.services.jobs import run_job_now
from loyalty.tasks import run_scheduled_job


class Command(BaseCommand):
    help = "Run a scheduled job now: " + ", ".join(extensions.jobs.names()) + "."

    def add_arguments(self, parser):
        parser.add_argument("job", choices=extensions.jobs.names())
        parser.add_argument("--as-of", help="ISO 8601 date-time with offset (default: now).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; write nothing.")
        parser.add_argument(
            "--sync", action="store_true", help="Run in this process (the default when no broker is configured)."
        )
        parser.add_argument("--chunk-size", type=int, help="Members per chunk (default: LOYALTY_JOB_CHUNK_SIZE).")

    def handle(self, *args, job, as_of, dry_run, sync, chunk_size, **options):
        moment = timezone.now()
        if as_of:
            moment = parse_datetime(as_of)
            if moment is None or timezone.is_naive(moment):
                raise CommandError("--as-of must be an ISO 8601 date-time with an offset, e.g. 2026-12-01T04:00+08:00.")
        if dry_run:
            for line in preview_job(job=job, as_of=moment):
                self.stdout.write(job_summaries.render(line))
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
            return
        if sync or settings.CELERY_TASK_ALWAYS_EAGER:
            run = run_job_now(job=job, as_of=moment, chunk_size=chunk_size)
            self.stdout.write(
                f"{run.job} {run.period}: {run.status}; {run.chunks_done}/{run.chunks_total} chunks, "
                f"{run.members_changed} members changed, {run.entries_written} entries written."
            )
            if run.status != run.Status.DONE:
                raise CommandError(run.error)
            return
        run_id = run_scheduled_job.delay(job, moment.isoformat()).get(timeout=60)
        self.stdout.write(f"Dispatched {job} (job run {run_id}); follow it in the admin under Job runs.")
