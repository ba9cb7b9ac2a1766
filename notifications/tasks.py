"""Celery tasks: beat starts `send_notifications` every few seconds (and the outbox subscriber as soon
as it has made some), `prune_notifications` daily."""

from celery import shared_task

from . import services


@shared_task(name="notifications.send_notifications", ignore_result=True)
def send_notifications() -> int:
    """Send what is due, until none is left (several of these at once take different ones)."""
    sent = 0
    while taken := services.send_due():
        sent += taken
    return sent


@shared_task(name="notifications.prune_notifications", ignore_result=True)
def prune_notifications() -> int:
    return services.prune_finished()
