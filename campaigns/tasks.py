"""The campaigns' Celery tasks (beat starts them; setup_schedules makes the schedule)."""

import threading

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, connection

from .services import refresh, segments


@shared_task(name="campaigns.refresh_changed_members", ignore_result=True)
def refresh_changed_members_task() -> int:
    """Refresh the tags and segments of the members the domain events said changed."""
    return refresh.refresh_pending().members_changed


@shared_task(
    name="campaigns.compute_segment_version",
    bind=True,
    ignore_result=True,
    acks_late=True,
    max_retries=5,
    default_retry_delay=10,
)
def compute_segment_version_task(self, version_id: int) -> None:
    """A new segment version's members. A worker that dies midway leaves the message unacknowledged
    and the version resumable: the redelivered task carries on from the last chunk committed. A lost
    connection or a lock timeout is retried; whatever else stops it, "Recompute now" resumes it."""
    try:
        segments.compute_version(version_id=version_id)
    except OperationalError as exc:
        raise self.retry(exc=exc) from exc


def dispatch_computation(version_id: int) -> None:
    """Have a new version computed in the background: by the Celery workers, or, with no broker
    (the demo), by a thread of this process, so the admin's page returns at once either way."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        compute_segment_version_task.delay(version_id)
        return
    threading.Thread(
        target=_compute_in_thread, args=(version_id,), name=f"segment-version-{version_id}", daemon=True
    ).start()


def _compute_in_thread(version_id: int) -> None:
    try:
        segments.compute_version(version_id=version_id)
    finally:
        connection.close()  # the thread's own connection
