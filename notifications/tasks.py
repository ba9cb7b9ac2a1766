"""Celery tasks: beat starts `send_notifications` every few seconds (and the outbox subscriber as soon
as it has made some), `prune_notifications` daily."""

import time

from celery import shared_task

from . import services

# A task stops taking more after this long, so that a backlog is worked off by the tasks beat keeps
# starting rather than by one that never ends.
MAX_SECONDS = 50


@shared_task(name="notifications.send_notifications", ignore_result=True)
def send_notifications() -> int:
    """Send what is due until none is left or MAX_SECONDS have passed (several of these at once take
    different ones)."""
    deadline = time.monotonic() + MAX_SECONDS
    sent = 0
    while time.monotonic() < deadline and (taken := services.send_due()):
        sent += taken
    return sent


@shared_task(name="notifications.prune_notifications", ignore_result=True)
def prune_notifications() -> int:
    return services.prune_finished()
