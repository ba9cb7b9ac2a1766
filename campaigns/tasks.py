"""The campaigns' Celery tasks (beat starts them; setup_schedules makes the schedule)."""

from celery import shared_task

from .services import refresh


@shared_task(name="campaigns.refresh_changed_members", ignore_result=True)
def refresh_changed_members_task() -> int:
    """Refresh the tags and segments of the members the domain events said changed."""
    return refresh.refresh_pending().members_changed
