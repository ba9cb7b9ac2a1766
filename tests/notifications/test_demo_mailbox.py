"""The demo's mailbox (notifications.demo): the demo's email backend keeps what is sent, and the
page shows it, instead of the console."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from loyalty.services import adjust_growth
from notifications import demo
from tests.notifications.conftest import relay_and_send

pytestmark = pytest.mark.django_db


def test_a_notification_sent_in_the_demo_is_on_the_mailbox_page(enrol, user, settings):
    settings.EMAIL_BACKEND = "notifications.demo.DemoMailbox"
    cache.delete(demo.KEPT)
    member = enrol("D-1", name="李雷", language="zh-hans")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    relay_and_send()
    page = demo.page(RequestFactory().get("/demo/mail/")).content.decode()
    assert "d-1@example.com" in page and "恭喜您升级为" in page and "李雷，您好" in page


def test_the_mailbox_keeps_the_last_fifty(settings):
    from django.core.mail import send_mail

    settings.EMAIL_BACKEND = "notifications.demo.DemoMailbox"
    cache.delete(demo.KEPT)
    for n in range(demo.SHOWN + 5):
        send_mail(f"message {n}", "text", "from@example.com", ["to@example.com"])
    kept = cache.get(demo.KEPT)
    assert len(kept) == demo.SHOWN and kept[0]["subject"] == f"message {demo.SHOWN + 4}"
