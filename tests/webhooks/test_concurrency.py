"""Exactly-once publication, at-least-once delivery, on PostgreSQL with real threads and processes:
two relays at once make each (event, endpoint) delivery once (by either path, the subscriber's lock
set aside); a relay killed after committing its
deliveries and before sending (a process, SIGKILL) loses none; a sender killed between sending and
recording sends again with the same webhook-id; 10,000 events to 3 endpoints make 30,000
deliveries, which concurrent senders deliver once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty import outbox
from loyalty.extensions import OutboxEvent
from loyalty.models import OutboxNumbering
from members.models import DomainEvent, Member
from members.outbox import Occurrence, publish_many
from tests.factories import MemberFactory
from tests.helpers import ensure_default_program
from tests.webhooks.receiver import Receiver
from webhooks import sending, services
from webhooks.models import Delivery, Endpoint

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL"),
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]


def publish(events: int, *, members: int = 100) -> None:
    """`events` domain events over `members` members, in one transaction (as a job's chunk would)."""
    if not Member.objects.exists():
        MemberFactory.create_batch(members)
    ids = list(Member.objects.order_by("id").values_list("id", flat=True))
    with transaction.atomic():
        publish_many(
            [Occurrence("points.adjusted", {"points": n, "kind": "adjust"}, ids[n % len(ids)]) for n in range(events)]
        )


def endpoints(*receivers: Receiver) -> list[Endpoint]:
    made = []
    for receiver in receivers:
        endpoint, secret = services.create_endpoint(url=receiver.url, event_types="points.*")
        receiver.secrets.append(secret)
        made.append(endpoint)
    return made


def in_threads(function, count: int) -> None:
    errors = []

    def run():
        try:
            function()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors


def subprocess_env() -> dict[str, str]:
    database = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }


def test_two_relays_at_once_make_each_delivery_once():
    ensure_default_program()
    with Receiver() as first, Receiver() as second:
        endpoints(first, second)
        publish(2_000)
        in_threads(lambda: outbox.relay(batches=1), 2)
        assert Delivery.objects.count() == 4_000
        # and two relays handing over the same events at the same moment (the subscriber's lock
        # set aside): the unique pair keeps one row each
        events = [OutboxEvent.of(row, 1) for row in DomainEvent.objects.all()]
        Delivery.objects.all().delete()
        barrier = threading.Barrier(2)

        def hand_over():
            with transaction.atomic():
                barrier.wait()
                services.create_deliveries(events)

        in_threads(hand_over, 2)
        pairs = Counter(Delivery.objects.values_list("endpoint_id", "event_id"))
        assert len(pairs) == 4_000 and set(pairs.values()) == {1}

        # and the set-based path PostgreSQL's relay takes (INSERT … SELECT … ON CONFLICT), twice at once
        Delivery.objects.all().delete()
        last = OutboxNumbering.objects.get().last_position

        def fan_out():
            with transaction.atomic():
                barrier.wait()
                services.create_deliveries_between(0, last)

        in_threads(fan_out, 2)
        pairs = Counter(Delivery.objects.values_list("endpoint_id", "event_id"))
        assert len(pairs) == 4_000 and set(pairs.values()) == {1}


KILLED_RELAY = textwrap.dedent(
    """
    import os, signal
    import django

    django.setup()
    from loyalty import outbox
    from webhooks import services

    def die_before_sending():
        os.kill(os.getpid(), signal.SIGKILL)  # the deliveries are committed; nothing was sent

    services._kick_senders = die_before_sending
    outbox.relay(batches=1)
    """
)


def test_a_relay_killed_between_commit_and_send_loses_nothing():
    ensure_default_program()
    with Receiver() as first, Receiver() as second:
        endpoints(first, second)
        for _ in range(3):
            publish(100)
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_RELAY], cwd=ROOT, env=subprocess_env(), timeout=120, capture_output=True
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
        assert Delivery.objects.count() == 200, "the first batch's deliveries were committed, then the relay died"
        assert not first.received and not second.received

        outbox.relay()
        sending.send_due(threads=4, claim_size=5)
        events = set(map(str, DomainEvent.objects.values_list("id", flat=True)))
        for receiver in (first, second):
            assert all(r.verified for r in receiver.received)
            assert Counter(receiver.ids()) == Counter(events), "every event once, none lost"
        assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


KILLED_SENDER = textwrap.dedent(
    """
    import os, signal
    import django

    django.setup()
    from webhooks import sending, services

    def die_before_recording(**kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # the request was answered; the attempt is not recorded

    services.record_attempts = die_before_recording
    sending.send_due(threads=1, claim_size=1)
    """
)


def test_a_sender_killed_between_sending_and_recording_sends_again_with_the_same_id():
    ensure_default_program()
    with Receiver() as receiver:
        endpoints(receiver)
        publish(3)
        outbox.relay()
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_SENDER], cwd=ROOT, env=subprocess_env(), timeout=120, capture_output=True
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
        (sent_once,) = receiver.ids()
        assert sending.send_due(threads=1) == 2, "the leased delivery waits for its lease to run out"
        Delivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())  # it ran out
        assert sending.send_due(threads=1) == 1
        counts = Counter(receiver.ids())
        assert counts[sent_once] == 2 and len(counts) == 3
        assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_ten_thousand_events_to_three_endpoints_make_thirty_thousand_deliveries_sent_once_each():
    ensure_default_program()
    with Receiver() as a, Receiver() as b, Receiver() as c:
        endpoints(a, b, c)
        for _ in range(10):
            publish(1_000)
        outbox.relay()
        assert Delivery.objects.count() == 30_000
        assert Delivery.objects.values("endpoint_id", "event_id").distinct().count() == 30_000
        in_threads(
            lambda: sending.send_due(threads=4, claim_size=20, max_seconds=600), 2
        )  # two workers, four threads each
        for receiver in (a, b, c):
            assert len(receiver.received) == 10_000 and len(set(receiver.ids())) == 10_000
        assert Delivery.objects.filter(status="delivered").count() == 30_000
