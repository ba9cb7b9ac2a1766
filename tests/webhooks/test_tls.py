"""HTTPS endpoints: the request goes to the address that was checked, while TLS (SNI and the
certificate's name) and the Host header keep the URL's host name; a certificate for another name
is refused. A local HTTPS receiver with a throwaway CA (openssl)."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from tests.webhooks.conftest import relay_and_send
from tests.webhooks.receiver import Receiver
from webhooks import egress
from webhooks.models import Delivery
from webhooks.services import create_endpoint

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


def certificate(directory, name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` (also its own CA) and its key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
def hooks_test_resolves_here(monkeypatch):
    """hooks.test (and other.test) resolve to 127.0.0.1, as a public name would to its address."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host.endswith(".test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(egress.socket, "getaddrinfo", resolve)


def test_https_keeps_the_host_name_for_tls_and_the_host_header(program, enrol, settings, tmp_path,
                                                                hooks_test_resolves_here):  # fmt: skip
    cert, key = certificate(tmp_path, "hooks.test")
    settings.WEBHOOK_CA_BUNDLE = cert
    with Receiver(tls=(cert, key)) as receiver:
        _, secret = create_endpoint(url=f"https://hooks.test:{receiver.port}/hooks", event_types="*")
        receiver.secrets.append(secret)
        enrol("M-1")
        relay_and_send()
        (got,) = receiver.received
        assert got.verified and got.headers["host"] == f"hooks.test:{receiver.port}"
    assert Delivery.objects.get().status == "delivered"


def test_a_certificate_for_another_name_is_refused(program, enrol, settings, tmp_path, hooks_test_resolves_here):
    cert, key = certificate(tmp_path, "other.test")
    settings.WEBHOOK_CA_BUNDLE = cert
    with Receiver(tls=(cert, key)) as receiver:
        create_endpoint(url=f"https://hooks.test:{receiver.port}/hooks", event_types="*")
        enrol("M-1")
        relay_and_send()
        assert not receiver.received
    delivery = Delivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == "pending" and attempt.error == "connection"
    assert "hooks.test" in attempt.error_detail or "certificate" in attempt.error_detail.lower()
