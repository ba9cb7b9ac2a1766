from django.conf import settings
from django.db import models
from django.db.models import Q


class JobRun(models.Model):
    """One run of a scheduled job for one period (unique), made of member-id-range chunks."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.CharField(max_length=32)
    period = models.CharField(
        max_length=32, help_text="e.g. 2026-11 (monthly), 2026-11-22 (daily), 2026-11-22T04 (hourly)"
    )
    as_of = models.DateTimeField(help_text="The moment the job acts as of.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    members_changed = models.PositiveIntegerField(default=0)
    entries_written = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    dry_run = models.BooleanField(
        default=False, help_text="Each chunk's work is done and rolled back: the counts say what would change."
    )
    summary = models.JSONField(default=list, blank=True, help_text="Dry runs: what would change, in words.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "period"], condition=Q(dry_run=False), name="job_run_once_per_period"
            )
        ]
        permissions = [("run_job", "Can start jobs and dry runs from the admin")]

    def __str__(self):
        return f"{self.job} {self.period} ({self.status})"

    @property
    def progress(self) -> float:
        return self.chunks_done / self.chunks_total if self.chunks_total else 0.0


class JobChunk(models.Model):
    """Members with first_member_id <= id <= last_member_id, done in one transaction."""

    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="chunks")
    first_member_id = models.BigIntegerField()
    last_member_id = models.BigIntegerField()
    done = models.BooleanField(default=False)
    members_changed = models.PositiveIntegerField(default=0)
    entries_written = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "first_member_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "first_member_id"], name="job_chunk_unique_range"),
            models.CheckConstraint(
                condition=Q(last_member_id__gte=models.F("first_member_id")), name="job_chunk_range"
            ),
        ]

    def __str__(self):
        return f"{self.run} [{self.first_member_id}..{self.last_member_id}]"
