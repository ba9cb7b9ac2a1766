"""Telling staff that an endpoint stopped on its own (410 Gone, or a day of failures): an email to
everyone who may change endpoints, and a notice on their next admin page
(loyalty.backoffice-style middleware: webhooks.middleware)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from .models import Endpoint

logger = logging.getLogger(__name__)
PERMISSION = "webhooks.change_endpoint"


def endpoint_stopped(endpoint_id: int) -> None:
    """After the stop commits: an email to the staff who may act on it."""
    transaction.on_commit(lambda: _email(endpoint_id))


def recipients() -> list[str]:
    users = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    app, codename = PERMISSION.split(".")
    holders = users.filter(
        Q(is_superuser=True)
        | Q(user_permissions__content_type__app_label=app, user_permissions__codename=codename)
        | Q(groups__permissions__content_type__app_label=app, groups__permissions__codename=codename)
    )
    return sorted(set(holders.values_list("email", flat=True)))


def message(endpoint: Endpoint) -> str:
    values = {"endpoint": endpoint, "url": endpoint.url, "reason": endpoint.get_status_reason_display()}
    if endpoint.status == Endpoint.Status.DISABLED:
        return _("Webhook endpoint %(endpoint)s (%(url)s) was disabled: %(reason)s.") % values
    return (
        _("Webhook endpoint %(endpoint)s (%(url)s) was paused: %(reason)s. Resume it once it answers again.") % values
    )


def _email(endpoint_id: int) -> None:
    endpoint = Endpoint.objects.get(pk=endpoint_id)
    to = recipients()
    if not to:
        return
    with translation.override(settings.LANGUAGE_CODE):
        text = message(endpoint)
        subject = _("Webhook endpoint stopped")
    try:
        send_mail(subject, text, None, to)
    except OSError:  # the pause stands either way; the admin notice still tells them
        logger.exception("Could not email the notice that webhook endpoint %s stopped", endpoint_id)


def unseen(*, seen: set[str]) -> list[Endpoint]:
    """Endpoints stopped on their own whose stop (`id:time`) is not among those this person has seen."""
    stopped = Endpoint.objects.filter(
        status__in=[Endpoint.Status.PAUSED, Endpoint.Status.DISABLED],
        status_reason__in=[Endpoint.Reason.FAILING, Endpoint.Reason.GONE],
    )
    return [endpoint for endpoint in stopped if key(endpoint) not in seen]


def key(endpoint: Endpoint) -> str:
    return f"{endpoint.pk}:{endpoint.status_changed_at.isoformat() if endpoint.status_changed_at else ''}"
