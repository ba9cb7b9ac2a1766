from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from loyalty import extensions, job_summaries


class JobRun(models.Model):
    """One run of a scheduled job for one period (unique), made of member-id-range chunks."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    job = models.CharField(_("job"), max_length=32)
    period = models.CharField(
        _("period"), max_length=32, help_text=_("e.g. 2026-11 (monthly), 2026-11-22 (daily), 2026-11-22T04 (hourly)")
    )
    as_of = models.DateTimeField(_("as of"), help_text=_("The moment the job acts as of."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    chunks_total = models.PositiveIntegerField(_("chunks in total"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    members_changed = models.PositiveBigIntegerField(_("members changed"), default=0)
    entries_written = models.PositiveBigIntegerField(_("entries written"), default=0)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    dry_run = models.BooleanField(
        _("dry run"),
        default=False,
        help_text=_("Each chunk's work is done and rolled back: the counts say what would change."),
    )
    summary = models.JSONField(
        _("summary"), default=list, blank=True, help_text=_("Dry runs: what would change, in words.")
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        constraints = [
            models.UniqueConstraint(
                fields=["job", "period"], condition=Q(dry_run=False), name="job_run_once_per_period"
            )
        ]
        permissions = [("run_job", _("Can start jobs and dry runs from the admin"))]

    def __str__(self):
        return f"{self.label} {self.period} ({self.get_status_display()})"

    @property
    def label(self) -> str:
        """The job's human name (its registration in loyalty.extensions.jobs); the code if it is gone."""
        job = extensions.jobs.get(self.job)
        return str(job.label) if job is not None else self.job

    @property
    def description(self) -> str:
        job = extensions.jobs.get(self.job)
        return str(job.description) if job is not None else ""

    @property
    def summary_lines(self) -> list[str]:
        """A dry run's "what would change", in the reader's language (loyalty.job_summaries)."""
        return [job_summaries.render(item) for item in self.summary]

    @property
    def progress(self) -> float:
        return self.chunks_done / self.chunks_total if self.chunks_total else 0.0


class JobChunk(models.Model):
    """Members with first_member_id <= id <= last_member_id, done in one transaction."""

    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("job run"))
    first_member_id = models.BigIntegerField(_("first member id"))
    last_member_id = models.BigIntegerField(_("last member id"))
    done = models.BooleanField(_("done"), default=False)
    members_changed = models.PositiveBigIntegerField(_("members changed"), default=0)
    entries_written = models.PositiveBigIntegerField(_("entries written"), default=0)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["run", "first_member_id"]
        verbose_name = _("job chunk")
        verbose_name_plural = _("job chunks")
        constraints = [
            models.UniqueConstraint(fields=["run", "first_member_id"], name="job_chunk_unique_range"),
            models.CheckConstraint(
                condition=Q(last_member_id__gte=models.F("first_member_id")), name="job_chunk_range"
            ),
        ]

    def __str__(self):
        return f"{self.run} [{self.first_member_id}..{self.last_member_id}]"
