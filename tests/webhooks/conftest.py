from __future__ import annotations

import pytest

from loyalty import outbox
from loyalty.services import enrol_member
from tests.webhooks.receiver import Receiver
from webhooks import sending
from webhooks.services import create_endpoint


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def endpoint(program, receiver):
    """An active endpoint at the test's receiver, taking every event; the receiver knows its secret."""
    made, secret = create_endpoint(url=receiver.url, event_types="*", description="test receiver")
    receiver.secrets.append(secret)
    return made


@pytest.fixture
def enrol(program):
    def make(external_id: str, **profile):
        return enrol_member(external_id=external_id, **profile)

    return make


def relay_and_send() -> int:
    """The relay makes the deliveries; one sender (this thread) sends what is due."""
    outbox.relay()
    return sending.send_due(threads=1, max_seconds=30)
