"""Celery tasks: beat starts `send_deliveries` every few seconds, and the relay starts one as soon as
it has made deliveries (webhooks.services)."""

from celery import shared_task

from . import sending, services


@shared_task(name="webhooks.send_deliveries", ignore_result=True)
def send_deliveries() -> int:
    """Send what is due (several of these running at once take different deliveries)."""
    return sending.send_due()


@shared_task(name="webhooks.prune_deliveries", ignore_result=True)
def prune_deliveries() -> int:
    """Remove finished deliveries older than WEBHOOK_RETENTION_DAYS (beat: hourly)."""
    return services.prune_finished()
