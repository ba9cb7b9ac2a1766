"""Deliveries end to end, to a real receiver on 127.0.0.1 that verifies each with the
`standardwebhooks` library: the body and headers, retries and their schedule, what 410, other 4xx,
redirects and hangs do, rotation's two signatures, and an old capture refused."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks import webhooks as standard

from loyalty import outbox
from members.models import DomainEvent, Member
from tests.factories import UserFactory
from tests.webhooks.conftest import relay_and_send
from tests.webhooks.receiver import Receiver, Reply
from webhooks import sending, services
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import create_endpoint, rotate_secret

pytestmark = pytest.mark.django_db


def come_due() -> None:
    """Time passes: every waiting delivery is due."""
    Delivery.objects.filter(status=Delivery.Status.PENDING).update(next_attempt_at=timezone.now())


def send() -> int:
    return sending.send_due(threads=1, max_seconds=30)


def test_each_event_arrives_signed_with_its_outbox_id_and_a_thin_body(endpoint, receiver, enrol):
    member = enrol("M-1", email="ann@example.com", phone="13800000000")
    assert relay_and_send() == 1
    (got,) = receiver.received
    assert got.verified, got.error
    event = DomainEvent.objects.get(member=member)
    assert got.headers["webhook-id"] == str(event.id)
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body == {
        "id": str(event.id),
        "type": "member.enrolled",
        "schema_version": 1,
        "occurred_at": body["occurred_at"],
        "member": "M-1",
        "sequence": event.member_sequence,
        "data": event.payload,
    }
    assert body["occurred_at"].endswith("Z")
    assert b"ann@example.com" not in got.body and b"13800000000" not in got.body
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert got.body == delivery.body.encode()


def test_an_endpoint_receives_only_the_types_it_subscribes_to(program, receiver, enrol, user):
    from loyalty.services import adjust_points

    create_endpoint(url=receiver.url, event_types="points.*")
    member = enrol("M-1")
    adjust_points(member=member, amount=50, reason="welcome", actor=user)
    relay_and_send()
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["points.adjusted"]


def test_personal_data_only_for_an_endpoint_that_opts_in_and_erased_with_the_member(program, receiver, enrol):
    from loyalty.services.privacy import anonymise_member

    create_endpoint(url=receiver.url, event_types="member.*", include_personal_data=True)
    create_endpoint(url=receiver.url + "/thin", event_types="member.*")
    member = enrol("M-1", email="ann@example.com", phone="13800000000")
    relay_and_send()
    bodies = sorted((json.loads(r.body) for r in receiver.received), key=lambda b: "contact" in b)
    assert "contact" not in bodies[0]
    assert bodies[1]["contact"] == {"email": "ann@example.com", "phone": "13800000000"}

    anonymise_member(member=member, reason="asked")
    stored = [json.loads(d.body) for d in Delivery.objects.filter(member_id=member.pk)]
    assert all(b.get("contact", {}).get("email", "") == "" for b in stored)
    assert all("ann@example.com" not in d.body for d in Delivery.objects.all())


def test_500_500_200_is_delivered_on_the_third_attempt_with_one_id(endpoint, receiver, enrol):
    receiver.answer(Reply(500), Reply(503, headers={"retry-after": "2"}))
    enrol("M-1")
    outbox.relay()
    before = timezone.now()
    send()
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert timedelta(seconds=4) <= delivery.next_attempt_at - before <= timedelta(seconds=7)
    come_due()
    send()
    delivery.refresh_from_db()
    # the second retry waits 5 minutes (±10%); the receiver's Retry-After (2 s) asked for less
    assert timedelta(minutes=4) < delivery.next_attempt_at - timezone.now() <= timedelta(minutes=6)
    come_due()
    send()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(set(receiver.ids())) == 1 and len(receiver.received) == 3
    assert all(r.verified for r in receiver.received)
    assert [a.status_code for a in delivery.attempt_log.all()] == [500, 503, 200]
    assert [a.error for a in delivery.attempt_log.all()] == ["status", "status", ""]


def test_retry_after_longer_than_the_schedule_is_honoured(endpoint, receiver, enrol):
    receiver.answer(Reply(429, headers={"retry-after": "600"}))
    enrol("M-1")
    outbox.relay()
    send()
    delivery = Delivery.objects.get()
    assert timedelta(minutes=9) < delivery.next_attempt_at - timezone.now() <= timedelta(minutes=10)


def test_after_the_tenth_attempt_the_delivery_has_failed(endpoint, receiver, enrol):
    receiver.default = Reply(502)
    enrol("M-1")
    outbox.relay()
    for _ in range(10):
        come_due()
        send()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 10, None)
    come_due()
    assert send() == 0


def test_410_gone_disables_the_endpoint_and_tells_staff(endpoint, receiver, enrol, django_capture_on_commit_callbacks):
    UserFactory(username="ops", is_superuser=True, email="ops@example.com")
    receiver.answer(Reply(410))
    enrol("M-1")
    enrol("M-2")
    outbox.relay()
    with django_capture_on_commit_callbacks(execute=True):
        send()
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.status_reason) == ("disabled", "gone")
    assert len(receiver.received) == 1, "a disabled endpoint is not sent to"
    assert Delivery.objects.filter(status="failed").count() == 1
    assert Delivery.objects.get(status="failed").attempt_log.get().error == "gone"
    (notice,) = mail.outbox
    assert notice.to == ["ops@example.com"] and endpoint.url in notice.body


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_4xx_fail_at_once(endpoint, receiver, enrol, status):
    receiver.answer(Reply(status, body=b"x" * 5000))
    enrol("M-1")
    relay_and_send()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == status and len(attempt.response_excerpt) == 2048
    assert Endpoint.objects.get().status == "active"


def test_redirects_are_not_followed(endpoint, receiver, enrol):
    receiver.answer(Reply(307, headers={"location": "http://169.254.169.254/latest/meta-data/"}))
    enrol("M-1")
    relay_and_send()
    assert len(receiver.received) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and delivery.attempt_log.get().error == "redirect"


def test_a_hang_times_out_and_is_tried_again(endpoint, receiver, enrol, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5  # the production 15 s, shortened; the receiver hangs 30 s
    receiver.answer(Reply(200, hang_seconds=30))
    enrol("M-1")
    relay_and_send()
    delivery = Delivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert (attempt.error, attempt.status_code) == ("timeout", None)
    assert attempt.duration_ms < 5000
    assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()
    come_due()
    send()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and len(set(receiver.ids())) == 1


def test_an_endpoint_failing_for_24_hours_is_paused_and_staff_are_told(
    endpoint, receiver, enrol, client, django_capture_on_commit_callbacks
):
    staff = UserFactory(username="ops", is_superuser=True, email="ops@example.com")
    UserFactory(username="clerk", email="clerk@example.com")  # may not change endpoints: not told
    receiver.default = Reply(500)
    enrol("M-1")
    outbox.relay()
    send()
    endpoint.refresh_from_db()
    assert endpoint.status == "active" and endpoint.failing_since is not None
    # a day of failures later (time simulated: the first failure moved back 25 hours)
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(hours=25))
    come_due()
    with django_capture_on_commit_callbacks(execute=True):
        send()
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.status_reason) == ("paused", "failing")
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]
    come_due()
    assert send() == 0, "a paused endpoint is not sent to"

    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert "was paused" in page
    assert "was paused" not in client.get("/admin/").content.decode(), "told once"


def test_a_success_clears_the_failing_clock(endpoint, receiver, enrol):
    receiver.answer(Reply(500))
    enrol("M-1")
    outbox.relay()
    send()
    assert Endpoint.objects.get().failing_since is not None
    come_due()
    send()
    assert Endpoint.objects.get().failing_since is None


def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(endpoint, receiver, enrol):
    old_secret = receiver.secrets[0]
    new_secret = rotate_secret(endpoint=endpoint, overlap=timedelta(hours=1))
    receiver.secrets.append(new_secret)  # the receiver verifies with each: both must match
    enrol("M-1")
    relay_and_send()
    (got,) = receiver.received
    assert got.verified, got.error
    assert len(got.headers["webhook-signature"].split(" ")) == 2

    endpoint.secrets.filter(secret=old_secret).update(expires_at=timezone.now() - timedelta(seconds=1))
    receiver.secrets = [new_secret]
    enrol("M-2")
    relay_and_send()
    latest = receiver.received[-1]
    assert latest.verified and len(latest.headers["webhook-signature"].split(" ")) == 1
    with pytest.raises(standard.WebhookVerificationError):
        standard.Webhook(old_secret).verify(latest.body, latest.headers)


def test_a_captured_delivery_replayed_later_is_rejected_by_the_receiver(endpoint, receiver, enrol, monkeypatch):
    enrol("M-1")
    relay_and_send()
    (captured,) = receiver.received
    real_datetime = standard.datetime

    class Later(real_datetime):
        @classmethod
        def now(cls, tz=None):
            return real_datetime.now(tz) + timedelta(minutes=10)

    monkeypatch.setattr(standard, "datetime", Later)  # the receiver's clock, ten minutes on
    httpx.post(receiver.url, content=captured.body, headers=captured.headers)
    replay = receiver.received[-1]
    assert not replay.verified and "too old" in replay.error


def test_a_sender_killed_between_sending_and_recording_sends_again_with_the_same_id(
    endpoint, receiver, enrol, monkeypatch
):
    enrol("M-1")
    outbox.relay()

    def killed(**kwargs):
        raise SystemExit("the worker died")

    with monkeypatch.context() as patched:
        patched.setattr(sending.services, "record_attempts", killed)
        with pytest.raises(SystemExit):
            send()
    assert len(receiver.received) == 1
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.lease is not None and delivery.attempts == 0
    assert send() == 0, "leased: not sent again before the lease runs out"
    come_due()  # the lease ran out
    send()
    assert receiver.ids() == [str(delivery.event_id)] * 2
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and Attempt.objects.count() == 1


def test_a_stale_sender_records_its_attempt_but_leaves_the_state_to_the_new_claim(endpoint, receiver, enrol):
    enrol("M-1")
    outbox.relay()
    (first,) = sending.claim(limit=10)
    come_due()
    (second,) = sending.claim(limit=10)
    assert first.lease != second.lease
    sender = sending.Sender()
    sender.send_claimed([second])
    sender.send_claimed([first])  # the stale one finishes last
    sender.close()
    delivery = Delivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 1 and delivery.attempt_log.count() == 2


def test_receivers_in_any_language_verify_a_new_endpoints_secret():
    """The secret is whsec_ + base64 of 32 random bytes, which every Standard Webhooks library takes."""
    from webhooks import signing

    secret = signing.new_secret()
    assert signing.valid_secret(secret) and secret.startswith("whsec_")
    standard.Webhook(secret)  # accepted
    assert not signing.valid_secret("whsec_c2hvcnQ=")  # 5 bytes
    assert not signing.valid_secret("secret")


def test_the_receiver_helper_refuses_a_tampered_body(endpoint, receiver, enrol):
    enrol("M-1")
    relay_and_send()
    captured = receiver.received[0]
    with Receiver(secrets=receiver.secrets) as other:
        httpx.post(other.url, content=captured.body.replace(b"M-1", b"M-2"), headers=captured.headers)
        assert not other.received[0].verified


def test_an_occasional_failure_days_after_the_last_does_not_pause_and_4xx_do_not_count(endpoint, receiver, enrol):
    receiver.answer(Reply(400))
    enrol("M-1")
    relay_and_send()
    assert Endpoint.objects.get().failing_since is None, "a 400 for one message says nothing about the endpoint"

    receiver.answer(Reply(503))
    enrol("M-2")
    relay_and_send()
    first = Endpoint.objects.get()
    assert first.failing_since is not None
    # two days of quiet, then another 503: the clock starts again rather than pausing
    two_days_ago = timezone.now() - timedelta(days=2)
    Endpoint.objects.update(failing_since=two_days_ago, last_failure_at=two_days_ago)
    receiver.answer(Reply(503))
    enrol("M-3")
    outbox.relay()
    Delivery.objects.filter(status="pending").exclude(member_id=Member.objects.get(external_id="M-3").pk).update(
        next_attempt_at=None
    )
    send()
    endpoint = Endpoint.objects.get()
    assert endpoint.status == "active" and endpoint.failing_since > two_days_ago


def test_pausing_takes_the_waiting_deliveries_out_of_the_senders_way_until_resumed(endpoint, receiver, enrol):
    services.pause_endpoint(endpoint=endpoint)
    enrol("M-1")
    outbox.relay()
    enrol("M-2")
    services.send_test_event(endpoint=endpoint)
    outbox.relay()
    assert set(Delivery.objects.values_list("next_attempt_at", flat=True)) == {None}
    services.resume_endpoint(endpoint=endpoint)
    assert not Delivery.objects.filter(next_attempt_at__isnull=True).exists()
    assert send() == 3 and len(receiver.received) == 3
    services.disable_endpoint(endpoint=endpoint)
    services.resend_delivery(delivery=Delivery.objects.first())
    assert Delivery.objects.get(status="pending").next_attempt_at is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999/hooks", "http://xn--ls8h.example.invalid:1/hooks", "http://[::1/hooks"]
)
def test_a_url_the_sender_cannot_use_fails_its_delivery_and_not_the_others(endpoint, receiver, enrol, url):
    """A URL that got past the checks (stored before them, or by hand) fails its own delivery; the
    rest of the claim is sent and recorded."""
    broken, _ = services.create_endpoint(url=receiver.url + "/other", event_types="*")
    Endpoint.objects.filter(pk=broken.pk).update(url=url)
    enrol("M-1")
    relay_and_send()
    assert len(receiver.received) == 1
    mine = Delivery.objects.get(endpoint=broken)
    assert mine.attempt_log.count() == 1 and mine.attempts == 1
    assert Delivery.objects.get(endpoint=endpoint).status == "delivered"


def test_an_internationalised_host_is_sent_in_its_ascii_form(settings, monkeypatch):
    import socket

    from webhooks import egress

    settings.WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        egress.socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("1.1.1.1", 443))]
    )
    target = egress.resolve("https://会员.example.cn/hooks")
    assert target.host_header == "xn--6oqr1k.example.cn" and target.host == "会员.example.cn"
    assert egress.resolve("https://[2606:4700::1]:8443/x").host_header == "[2606:4700::1]:8443"


def test_a_slow_answer_body_is_cut_off_at_the_timeout(endpoint, receiver, enrol, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.answer(Reply(200, body=b"x" * 100, drip_seconds=0.3))
    enrol("M-1")
    relay_and_send()
    attempt = Delivery.objects.get().attempt_log.get()
    assert attempt.status_code == 200 and attempt.duration_ms < 2500 and len(attempt.response_excerpt) < 100
