"""The notification screens in a real browser: a marketer turns a kind off for email and sets the
quiet hours; an upgraded member's page shows what they were told and why, in Chinese; the
notification shows its text as the member read it; and the unsubscribe page a member opens."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from loyalty import outbox
from loyalty.services import adjust_growth, enrol_member
from notifications import services
from notifications.models import Notification, NotificationSettings
from tests.browser.test_operations_admin import log_in, staff
from tests.helpers import ensure_default_program

pytestmark = pytest.mark.django_db(transaction=True)


def test_settings_the_member_page_and_a_notification(page, live_server, shoot):
    ensure_default_program()
    marketer = staff("marketer", superuser=True)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/notifications/notificationsettings/")
    page.click("#result_list tbody tr th a")
    expect(page.locator("input[name=email_kinds][value='points.expiring']")).to_be_checked()
    page.uncheck("input[name=email_kinds][value='points.expiring']")
    page.check("input[name=message_kinds][value='tier.upgraded']")  # the storefront's messaging service takes it
    page.fill("#id_quiet_hours_start", "22:00")
    page.fill("#id_quiet_hours_end", "07:30")
    shoot(page, "notifications-01-settings")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_be_visible()
    config = NotificationSettings.current()
    assert "points.expiring" not in config.email_kinds and config.message_kinds == ["tier.upgraded"]
    assert config.quiet_hours_start == dt.time(22, 0)

    member = enrol_member(external_id="B-1", name="韩梅梅", email="", language="zh-hans")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=marketer)
    outbox.relay()
    services.send_due()
    page.evaluate("document.cookie = 'django_language=zh-hans; path=/'")  # the admin in Chinese
    page.goto(f"{live_server.url}/admin/members/member/{member.pk}/change/")
    panel = page.locator("#member-notifications")
    expect(panel).to_contain_text("会员没有电子邮箱")
    expect(panel).to_contain_text("已发送")
    panel.scroll_into_view_if_needed()
    shoot(page, "notifications-02-member-page-zh")

    suppressed = Notification.objects.get(channel="email")
    page.goto(f"{live_server.url}/admin/notifications/notification/{suppressed.pk}/change/")
    expect(page.locator(".field-text_shown")).to_contain_text("恭喜您升级为")
    shoot(page, "notifications-03-notification-zh")


def test_the_unsubscribe_page(page, live_server, shoot):
    ensure_default_program()
    member = enrol_member(external_id="B-2", email="b2@example.com", language="zh-hans", marketing_opt_in=True)
    page.goto(services.unsubscribe_url(member).replace("http://127.0.0.1:8000", live_server.url))
    expect(page.locator("body")).to_contain_text("不再接收")
    shoot(page, "notifications-04-unsubscribe-ask")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("您已退订")
    shoot(page, "notifications-05-unsubscribed")
    member.refresh_from_db()
    assert not member.marketing_opt_in
