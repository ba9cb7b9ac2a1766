"""The webhook screens in a real browser: an operator adds an endpoint and copies its secret from
the one page that shows it, sends a test event, and follows the delivery to its attempts; the same
endpoint page in Chinese."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_operations_admin import log_in, staff
from tests.helpers import ensure_default_program
from tests.webhooks.receiver import Receiver
from webhooks import sending
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_endpoint_from_adding_to_its_first_delivery(page, live_server, shoot):
    ensure_default_program()
    staff("integrator", superuser=True)
    with Receiver() as receiver:
        log_in(page, live_server, "integrator")
        page.goto(f"{live_server.url}/admin/")
        page.click("text=Webhook endpoints")
        page.click("text=Add webhook endpoint")
        page.fill("#id_url", receiver.url)
        page.fill("#id_description", "CRM")
        page.fill("#id_event_types_text", "tier.*, points.*")
        shoot(page, "webhooks-01-add")
        page.click("input[name=_save]")

        secret = page.locator("code.webhook-secret").inner_text()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{40,}", secret)
        expect(page.locator("body")).to_contain_text("not shown again")
        shoot(page, "webhooks-02-secret-once")
        receiver.secrets.append(secret)

        page.click("text=Done")
        expect(page.locator(".webhook-actions")).to_be_visible()
        page.click("text=Send a test event")
        expect(page.locator(".messagelist")).to_contain_text("A test event is on its way")
        sending.send_due(threads=1)  # what the Celery worker does
        assert receiver.received[0].verified
        page.reload()
        expect(page.locator(".field-health")).to_contain_text("100.0%")
        shoot(page, "webhooks-03-endpoint")

        page.click(".webhook-actions a.button:text-is('Deliveries')")
        expect(page.locator("#result_list tbody tr")).to_have_count(1)
        shoot(page, "webhooks-04-deliveries")
        page.click("#result_list tbody tr th a")
        expect(page.locator(".field-body_shown")).to_contain_text('"type": "webhook.test"')
        shoot(page, "webhooks-05-delivery-attempts")

        endpoint = Endpoint.objects.get()
        page.goto(f"{live_server.url}/admin/webhooks/endpoint/{endpoint.pk}/replay/")
        page.fill("#id_since_0", "2020-01-01")
        page.fill("#id_since_1", "00:00:00")
        page.check("input[name=which][value=all]")
        shoot(page, "webhooks-06-replay")
        page.click("input[type=submit][value=Replay]")
        expect(page.locator(".messagelist")).to_contain_text("1 delivery will be sent again")
        assert Delivery.objects.get().status == "pending"

        page.select_option("#language-select", "zh-hans")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        page.goto(f"{live_server.url}/admin/webhooks/endpoint/{endpoint.pk}/change/")
        expect(page.locator(".webhook-actions")).to_contain_text("发送测试事件")
        shoot(page, "webhooks-07-endpoint-zh")
