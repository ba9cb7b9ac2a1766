"""Starting a Celery task now rather than at beat's next tick, for the apps whose work a change
makes due (the webhooks' and the notifications' senders)."""

from __future__ import annotations

import logging

from django.conf import settings
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def start_soon(task, *, what: str) -> None:
    """`task.delay()`, unless tasks run eagerly (the demo: it would run inside the caller's own work;
    beat's tick does it there). A broker that is away is logged, not raised: beat's next tick starts
    `what` (a sender ...) instead."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    try:
        task.delay()
    except OperationalError:
        logger.warning("Could not start %s; beat's next tick will.", what, exc_info=True)
