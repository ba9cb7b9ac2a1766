"""Notifications in the admin: the settings (checkboxes per kind and channel, kept with their
history), the notifications list with the text as the member read it, and the member page's panel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty.services import adjust_growth
from loyalty.services.configuration import writer_for
from members.errors import InvalidInput, NotPermitted
from notifications.models import Notification, NotificationSettings
from notifications.services import check_settings
from tests.factories import UserFactory
from tests.notifications.conftest import relay_and_send

pytestmark = pytest.mark.django_db


def test_settings_are_changed_with_checkboxes_and_kept_in_history(client, login_as, notification_settings):
    login_as("notifications.change_notificationsettings", "notifications.view_notificationsettings")
    url = reverse("admin:notifications_notificationsettings_change", args=[1])
    page = client.get(url)
    assert page.status_code == 200 and 'name="email_kinds"' in page.content.decode()
    answer = client.post(
        url,
        {
            "default_language": "zh-hans",
            "email_kinds": ["tier.upgraded", "coupon.issued"],
            "message_kinds": [],
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:30",
            "daily_marketing_cap": "3",
            "at_risk_days": "5",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    config = NotificationSettings.current()
    assert config.email_kinds == ["tier.upgraded", "coupon.issued"] and config.message_kinds == []
    assert (config.daily_marketing_cap, config.at_risk_days, config.default_language) == (3, 5, "zh-hans")
    assert config.history.count() >= 2
    assert config.history.first().history_user.username == "clerk"


def test_only_staff_with_the_permission_change_the_settings(notification_settings):
    config = NotificationSettings.current()
    config.daily_marketing_cap = 9
    with pytest.raises(NotPermitted):
        writer_for(NotificationSettings).save(config, actor=UserFactory(), fields=["daily_marketing_cap"])
    assert NotificationSettings.current().daily_marketing_cap == 2


def test_unknown_kinds_are_refused(notification_settings):
    notification_settings.email_kinds = ["tier.upgraded", "birthday.party"]
    with pytest.raises(InvalidInput) as refused:
        check_settings(notification_settings)
    assert "birthday.party" in refused.value.fields["email_kinds"][0]


def test_the_log_shows_why_and_the_text_as_the_member_read_it(client, login_as, enrol, user):
    member = enrol("A-1", email="", language="zh-hans")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    relay_and_send()
    login_as("notifications.view_notification", "members.view_member")
    listing = client.get(reverse("admin:notifications_notification_changelist") + f"?member={member.pk}")
    assert listing.status_code == 200
    assert "the member has no email address" in listing.content.decode()
    suppressed = Notification.objects.get(channel="email")
    detail = client.get(reverse("admin:notifications_notification_change", args=[suppressed.pk]))
    assert "恭喜您升级为" in detail.content.decode()
    page = client.get(reverse("admin:members_member_change", args=[member.pk]))
    body = page.content.decode()
    assert 'id="member-notifications"' in body and "the member has no email address" in body


def test_the_panel_speaks_the_readers_language(client, login_as, enrol, user):
    member = enrol("A-2", email="")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    relay_and_send()
    login_as("notifications.view_notification", "members.view_member")
    page = client.get(reverse("admin:members_member_change", args=[member.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "会员没有电子邮箱" in page.content.decode()
