"""Endpoints: what may be registered (egress safety, patterns, secrets), the staff permissions the
services check, the management command's contract, resend and replay, and the admin screens."""

from __future__ import annotations

import io
import socket
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from loyalty import outbox
from members.errors import NotPermitted
from tests.helpers import staff_with
from tests.webhooks.conftest import relay_and_send
from tests.webhooks.receiver import Reply
from webhooks import egress, messages, selectors, sending, services
from webhooks.errors import EndpointDisabled, InvalidEndpoint
from webhooks.models import Attempt, Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",  # not HTTPS
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
        "https://100.100.100.200/",  # Alibaba Cloud's metadata service (shared address space)
        "https://[::1]/hooks",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://user:pass@example.com/hooks",
        "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "https://[::7f00:1]/",  # IPv4-compatible 127.0.0.1
        "https://[fec0::1]/",  # site-local
        "https://hooks.example.com:99999/",  # no such port
    ],
)
def test_private_addresses_and_plain_http_are_refused_unless_allowed(program, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(InvalidEndpoint) as refused:
        services.create_endpoint(url=url, event_types="*")
    assert "url" in refused.value.fields


def test_a_public_https_endpoint_is_accepted(program, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    endpoint, secret = services.create_endpoint(url="https://hooks.example.com/loyalty", event_types="tier.*")
    assert endpoint.status == "active" and secret.startswith("whsec_")


def test_a_name_resolving_to_a_private_address_is_refused_when_sending(endpoint, enrol, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    Endpoint.objects.filter(pk=endpoint.pk).update(url="https://hooks.example.com/x")

    def resolves_inside(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(egress.socket, "getaddrinfo", resolves_inside)
    enrol("M-1")
    relay_and_send()
    delivery = Delivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == "failed" and attempt.error == "refused_address"
    assert "10.0.0.7" in attempt.error_detail


def test_the_pinned_request_keeps_the_host_name_for_the_host_header_and_tls(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        egress.socket,
        "getaddrinfo",
        lambda host, port, **kw: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700::1", port, 0, 0))],
    )
    target = egress.resolve("https://hooks.example.com:8443/in?x=1")
    assert (target.address, target.port, target.path) == ("2606:4700::1", 8443, "/in?x=1")
    assert (target.host, target.host_header) == ("hooks.example.com", "hooks.example.com:8443")


@pytest.mark.parametrize("types", ["", "tier.", "Tier.upgraded", "tier.*.x", "*.upgraded", "a b"])
def test_event_type_patterns_are_checked(program, receiver, types):
    with pytest.raises(InvalidEndpoint) as refused:
        services.create_endpoint(url=receiver.url, event_types=types)
    assert "event_types" in refused.value.fields


def test_a_prefix_with_an_underscore_matches_only_itself_in_sql():
    """ "_" is LIKE's one-character wildcard: escaped, "member.first_purchase.*" does not match
    "member.firstXpurchase.y" in the set-based path."""
    assert services._sql_patterns(["member.first_purchase.*", "tier.*", "*"]) == {
        "everything": True,
        "exact": [],
        "prefixes": ["member.first\\_purchase.%", "tier.%"],
    }


def test_patterns_match_exact_types_prefixes_and_everything():
    assert messages.parse_patterns(" tier.*, points.expiring ,tier.*") == ["tier.*", "points.expiring"]
    assert messages.matches(["tier.*"], "tier.upgraded")
    assert not messages.matches(["tier.*"], "tiers.upgraded")
    assert messages.matches(["*"], "job.finished")
    assert messages.matches(["points.expiring"], "points.expiring")
    assert not messages.matches(["points.expiring"], "points.expired")


def test_text_that_cannot_be_stored_is_refused(program, receiver):
    with pytest.raises(InvalidEndpoint):
        services.create_endpoint(url=receiver.url, event_types="*", description="bad \ud800")
    with pytest.raises(InvalidEndpoint):
        services.create_endpoint(url=receiver.url, event_types="*", description="x" * 201)
    with pytest.raises(InvalidEndpoint):
        services.create_endpoint(url=receiver.url, event_types="*", secret="whsec_tooshort")


def test_staff_need_the_permissions(program, receiver):
    clerk = staff_with()
    with pytest.raises(NotPermitted):
        services.create_endpoint(url=receiver.url, event_types="*", actor=clerk)
    endpoint, _ = services.create_endpoint(url=receiver.url, event_types="*", actor=staff_with("webhooks.add_endpoint"))
    for act in (services.rotate_secret, services.pause_endpoint, services.disable_endpoint, services.send_test_event):
        with pytest.raises(NotPermitted):
            act(endpoint=endpoint, actor=clerk)
    with pytest.raises(NotPermitted):
        services.replay_deliveries(endpoint=endpoint, since=timezone.now(), actor=clerk)
    operator = staff_with("webhooks.change_endpoint")
    services.pause_endpoint(endpoint=endpoint, actor=operator)
    services.resume_endpoint(endpoint=endpoint, actor=operator)


def test_a_disabled_endpoint_gets_no_new_deliveries_and_a_paused_one_queues_them(endpoint, receiver, enrol):
    services.pause_endpoint(endpoint=endpoint)
    enrol("M-1")
    relay_and_send()
    assert Delivery.objects.filter(status="pending").count() == 1 and not receiver.received
    services.disable_endpoint(endpoint=endpoint)
    enrol("M-2")
    relay_and_send()
    assert Delivery.objects.count() == 1
    services.resume_endpoint(endpoint=endpoint)
    assert sending.send_due(threads=1) == 1
    assert len(receiver.received) == 1


def test_a_test_event_is_sent_whatever_the_endpoint_subscribes_to(program, receiver):
    endpoint, secret = services.create_endpoint(url=receiver.url, event_types="tier.upgraded")
    receiver.secrets.append(secret)
    delivery = services.send_test_event(endpoint=endpoint)
    sending.send_due(threads=1)
    (got,) = receiver.received
    assert got.verified and got.headers["webhook-id"] == str(delivery.event_id)
    services.disable_endpoint(endpoint=endpoint)
    with pytest.raises(EndpointDisabled):
        services.send_test_event(endpoint=endpoint)


def test_resend_and_replay_send_again_with_the_same_ids(endpoint, receiver, enrol):
    receiver.answer(Reply(400))
    enrol("M-1")
    enrol("M-2")
    relay_and_send()
    failed = Delivery.objects.get(status="failed")
    delivered = Delivery.objects.get(status="delivered")
    services.resend_delivery(delivery=failed)
    sending.send_due(threads=1)
    failed.refresh_from_db()
    assert failed.status == "delivered" and failed.attempt_log.count() == 2

    since = timezone.now() - timedelta(hours=1)
    assert services.replay_deliveries(endpoint=endpoint, since=since, only_failed=True) == 0
    assert services.replay_deliveries(endpoint=endpoint, since=since, only_failed=False) == 2
    sending.send_due(threads=1)
    ids = receiver.ids()
    assert ids.count(str(delivered.event_id)) == 2 and ids.count(str(failed.event_id)) == 3


def test_the_command_adds_lists_rotates_and_disables(program, receiver):
    out = io.StringIO()
    call_command("webhook_endpoint", "add", receiver.url, "--events", "tier.*,points.expiring", stdout=out)
    *_, endpoint_id, secret = out.getvalue().splitlines()
    endpoint = Endpoint.objects.get(pk=int(endpoint_id))
    assert endpoint.event_types == ["tier.*", "points.expiring"]
    assert selectors.signing_secrets(endpoint.pk, now=timezone.now()) == [secret]

    given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    out = io.StringIO()
    call_command("webhook_endpoint", "add", receiver.url, "--events", "*", "--secret", given, stdout=out)
    assert out.getvalue().splitlines()[-1] == given

    out = io.StringIO()
    call_command("webhook_endpoint", "rotate-secret", endpoint_id, stdout=out)
    *_, same_id, new_secret = out.getvalue().splitlines()
    assert same_id == endpoint_id and new_secret != secret
    assert selectors.signing_secrets(endpoint.pk, now=timezone.now()) == [new_secret, secret]

    call_command("webhook_endpoint", "disable", endpoint_id, stdout=io.StringIO())
    out = io.StringIO()
    call_command("webhook_endpoint", "list", stdout=out)
    assert f"{endpoint_id}\tdisabled (staff)\t{receiver.url}" in out.getvalue()
    with pytest.raises(CommandError, match="not an event type"):
        call_command("webhook_endpoint", "add", receiver.url, "--events", "Tier", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No webhook endpoint 999"):
        call_command("webhook_endpoint", "disable", "999", stdout=io.StringIO())


def test_a_rotated_secret_expires_after_the_overlap(endpoint):
    first = selectors.signing_secrets(endpoint.pk, now=timezone.now())
    second = services.rotate_secret(endpoint=endpoint, overlap=timedelta(hours=2))
    assert selectors.signing_secrets(endpoint.pk, now=timezone.now()) == [second, *first]
    assert selectors.signing_secrets(endpoint.pk, now=timezone.now() + timedelta(hours=3)) == [second]


def test_the_relay_handing_the_same_events_over_twice_makes_one_delivery_each(endpoint, enrol):
    from loyalty.extensions import OutboxEvent
    from members.models import DomainEvent

    enrol("M-1")
    enrol("M-2")
    events = [OutboxEvent.of(row, 1) for row in DomainEvent.objects.all()]
    services.create_deliveries(events)
    services.create_deliveries(events)  # the relay died before committing its progress
    assert Delivery.objects.count() == 2
    outbox.relay()
    assert Delivery.objects.count() == 2


def test_finished_deliveries_are_pruned_after_the_retention_and_waiting_ones_kept(endpoint, receiver, enrol):
    receiver.answer(Reply(400))  # one fails, the others are delivered
    for n in range(3):
        enrol(f"M-{n}")
    relay_and_send()
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["delivered", "delivered", "failed"]
    services.pause_endpoint(endpoint=endpoint)
    enrol("M-waiting")
    relay_and_send()
    waiting = Delivery.objects.get(status="pending")
    Delivery.objects.update(created_at=timezone.now() - timedelta(days=31))
    assert services.prune_finished(limit=2) == 3
    assert list(Delivery.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert not Attempt.objects.exists()
    assert services.prune_finished() == 0
