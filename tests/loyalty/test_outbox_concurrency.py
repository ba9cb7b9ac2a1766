"""The outbox under real concurrency, on PostgreSQL: storefront requests, batches and staff change
members from many threads while two relays run; afterwards every event was delivered to the
subscriber at least once and each member's events came in their order. A relay killed mid-batch (a
process, SIGKILL) loses nothing: the next run hands over what it had not committed, in order."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from loyalty import extensions, outbox
from loyalty.errors import InsufficientPoints
from loyalty.extensions import Subscriber
from loyalty.models import OutboxSubscriber
from loyalty.services import enrol_member, record_event, record_events, spend_points
from members.models import DomainEvent
from tests.helpers import ensure_default_program

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
]

MEMBERS = [f"m{i}" for i in range(6)]
ROOT = Path(__file__).resolve().parents[2]


class Received:
    """What the subscriber was handed, by every relay thread, in the order it was handed over."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []

    def __call__(self, events):
        with self.lock:
            self.events += events


def _write(worker: int, rounds: int) -> None:
    rng = random.Random(worker)
    try:
        for n in range(rounds):
            member = rng.choice(MEMBERS)
            roll = rng.random()
            if roll < 0.4:
                record_event(
                    source=f"w{worker}", event_id=f"{n}", member=member, event_type="purchase",
                    amount="120", order_id=f"w{worker}-{n}",
                )  # fmt: skip
            elif roll < 0.7:
                events = [{"event_id": f"b{n}-{i}", "member": rng.choice(MEMBERS), "type": "review"} for i in range(5)]
                record_events(source=f"w{worker}", events=events)
            else:
                with contextlib.suppress(InsufficientPoints):  # a normal answer here
                    spend_points(member=_member(member), amount=10, reason="coupon", source=f"w{worker}")
    finally:
        connection.close()


def _member(external_id: str):
    from members.models import Member

    return Member.objects.get(external_id=external_id)


def _relay_until(stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            outbox.relay(max_seconds=1, batches=3)
    finally:
        connection.close()


def test_concurrent_changes_are_delivered_at_least_once_each_member_in_order():
    ensure_default_program()
    for external_id in MEMBERS:
        enrol_member(external_id=external_id)
    received = Received()
    extensions.outbox_subscribers.register("test collector", Subscriber(handle=received, from_start=True))
    try:
        stop = threading.Event()
        relays = [threading.Thread(target=_relay_until, args=(stop,)) for _ in range(2)]
        writers = [threading.Thread(target=_write, args=(worker, 25)) for worker in range(6)]
        for thread in relays + writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=300)
        stop.set()
        for thread in relays:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in relays + writers), "a thread hung"
        outbox.relay()
    finally:
        extensions.outbox_subscribers.unregister("test collector")

    written = {str(pk) for pk in DomainEvent.objects.values_list("id", flat=True)}
    assert {event.id for event in received.events} == written, "every event was delivered"
    assert len(written) > 200
    for external_id in MEMBERS:
        mine = [event.sequence for event in received.events if event.member == external_id]
        assert mine == sorted(mine), f"{external_id}'s events out of order"
        assert len(set(mine)) == len(mine), "delivered once here: no relay failed"
        numbered = DomainEvent.objects.filter(member_external_id=external_id).values_list("member_sequence", flat=True)
        assert set(mine) == set(numbered) and len(set(numbered)) == len(numbered), "numbered once each"


KILLED_RELAY = textwrap.dedent(
    """
    import os, signal, sys
    import django

    django.setup()
    from loyalty import extensions, outbox
    from loyalty.extensions import Subscriber

    calls = 0

    def handle(events):
        global calls
        with open(sys.argv[1], "a") as log:
            for event in events:
                log.write(event.id + "\\n")
        calls += 1
        if calls == 3:  # the third delivery is handed over, then the process dies before it commits
            os.kill(os.getpid(), signal.SIGKILL)

    extensions.outbox_subscribers.register("resumable", Subscriber(handle=handle, from_start=True))
    outbox.relay(batches=2)
    """
)


def test_a_relay_killed_mid_batch_resumes_without_losing_or_reordering_events(tmp_path):
    ensure_default_program()
    for external_id in MEMBERS:
        member = enrol_member(external_id=external_id)
        record_event(source="shop", event_id=f"{external_id}-1", member=external_id, event_type="check_in")
        record_event(source="shop", event_id=f"{external_id}-2", member=member.external_id, event_type="review")
    log = tmp_path / "delivered.log"
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RELAY, str(log)], cwd=ROOT, env=env, timeout=120, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    first_run = log.read_text().split()
    assert OutboxSubscriber.objects.get(name="resumable").position == 4, "two deliveries of two batches committed"

    def resume(events):
        with log.open("a") as out:
            out.writelines(event.id + "\n" for event in events)

    extensions.outbox_subscribers.register("resumable", Subscriber(handle=resume, from_start=True))
    try:
        time.sleep(0.1)
        outbox.relay(batches=2)
    finally:
        extensions.outbox_subscribers.unregister("resumable")

    expected = [
        str(pk)
        for pk in DomainEvent.objects.order_by("batch__position", "member_id", "member_sequence", "id").values_list(
            "id", flat=True
        )
    ]
    delivered = log.read_text().split()
    redelivered = first_run[len(_committed(expected, 4)) :]
    assert redelivered, "the killed delivery had handed events over"
    assert delivered == first_run + expected[len(first_run) - len(redelivered) :]
    assert list(dict.fromkeys(delivered)) == expected, "nothing lost, nothing out of order"


def _committed(expected: list[str], batches: int) -> list[str]:
    """The events of the first `batches` batches, in delivery order."""
    positions = dict(DomainEvent.objects.values_list("id", "batch__position"))
    return [pk for pk in expected if positions[_uuid(pk)] <= batches]


def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)
