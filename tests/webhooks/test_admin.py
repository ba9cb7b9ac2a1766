"""The webhook screens: adding an endpoint shows its secret once, the buttons act through the
services and need their permissions, replay takes a moment, deliveries show every attempt."""

from __future__ import annotations

import pytest
from django.urls import reverse

from loyalty import outbox
from tests.webhooks.receiver import Reply
from webhooks import selectors, sending
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

ALL = (
    "webhooks.view_endpoint",
    "webhooks.add_endpoint",
    "webhooks.change_endpoint",
    "webhooks.view_delivery",
    "webhooks.resend_delivery",
)


def test_adding_an_endpoint_shows_the_secret_once(client, login_as, receiver):
    login_as(*ALL)
    page = client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": receiver.url, "description": "CRM", "event_types_text": "tier.*, points.*"},
    )
    assert page.status_code == 200
    endpoint = Endpoint.objects.get()
    (secret,) = selectors.signing_secrets(endpoint.pk, now=endpoint.created_at)
    assert secret in page.content.decode() and "not shown again" in page.content.decode()
    assert endpoint.event_types == ["tier.*", "points.*"]
    change = client.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])).content.decode()
    assert secret not in change
    assert "Send a test event" in change and "Rotate the secret" in change


def test_the_add_form_shows_the_services_objections_on_their_fields(client, login_as, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    login_as(*ALL)
    page = client.post(
        reverse("admin:webhooks_endpoint_add"),
        {"url": "https://10.0.0.1/x", "event_types_text": "Tier"},
    )
    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert "url" in errors and "event_types_text" in errors
    assert not Endpoint.objects.exists()


def test_the_buttons_act_and_need_the_change_permission(client, login_as, endpoint):
    login_as("webhooks.view_endpoint")
    for name in ("pause", "disable", "rotate", "test"):
        assert client.post(reverse(f"admin:webhooks_endpoint_{name}", args=[endpoint.pk])).status_code == 403
    login_as(*ALL, username="operator")
    assert client.get(reverse("admin:webhooks_endpoint_pause", args=[endpoint.pk])).status_code == 405
    client.post(reverse("admin:webhooks_endpoint_pause", args=[endpoint.pk]))
    assert Endpoint.objects.get().status == "paused"
    client.post(reverse("admin:webhooks_endpoint_resume", args=[endpoint.pk]))
    assert Endpoint.objects.get().status == "active"
    page = client.post(reverse("admin:webhooks_endpoint_rotate", args=[endpoint.pk])).content.decode()
    assert len(selectors.signing_secrets(endpoint.pk, now=endpoint.created_at)) == 2
    assert selectors.signing_secrets(endpoint.pk, now=endpoint.created_at)[0] in page
    client.post(reverse("admin:webhooks_endpoint_test", args=[endpoint.pk]))
    assert Delivery.objects.filter(event_type="webhook.test").count() == 1


def test_replay_since_a_moment(client, login_as, endpoint, receiver, enrol):
    receiver.answer(Reply(400))
    enrol("M-1")
    outbox.relay()
    sending.send_due(threads=1)
    login_as(*ALL)
    url = reverse("admin:webhooks_endpoint_replay", args=[endpoint.pk])
    assert "Only the failed deliveries" in client.get(url).content.decode()
    client.post(url, {"since_0": "2020-01-01", "since_1": "00:00:00", "which": "failed"})
    assert Delivery.objects.get().status == "pending"


def test_the_lists_show_health_and_the_delivery_its_attempts(client, login_as, endpoint, receiver, enrol):
    receiver.answer(Reply(500, body=b"upstream down"))
    enrol("M-1")
    outbox.relay()
    sending.send_due(threads=1)
    login_as(*ALL)
    listing = client.get(reverse("admin:webhooks_endpoint_changelist")).content.decode()
    assert "0.0%" in listing  # one attempt, none succeeded
    delivery = Delivery.objects.get()
    page = client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])).content.decode()
    assert "upstream down" in page and "member.enrolled" in page
    client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "resend", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.attempts == 0 and delivery.status == "pending"


def test_resending_needs_its_permission(client, login_as, endpoint, enrol):
    enrol("M-1")
    outbox.relay()
    login_as("webhooks.view_delivery", "webhooks.view_endpoint")
    page = client.get(reverse("admin:webhooks_delivery_changelist")).content.decode()
    assert "Resend the selected" not in page
    assert client.get(reverse("admin:webhooks_endpoint_replay", args=[endpoint.pk])).status_code == 403


def test_deliveries_are_found_by_their_event_id(client, login_as, endpoint, enrol):
    enrol("M-1")
    outbox.relay()
    delivery = Delivery.objects.get()
    login_as(*ALL)
    listing = reverse("admin:webhooks_delivery_changelist")
    found = client.get(listing, {"q": str(delivery.event_id)})
    assert list(found.context["cl"].result_list) == [delivery]
    nothing = client.get(listing, {"q": "not-an-id"})
    assert nothing.status_code == 200 and not list(nothing.context["cl"].result_list)
