"""A real HTTP receiver for the webhook tests: a thread serving on 127.0.0.1 that verifies every
request with the `standardwebhooks` library (as a customer's endpoint would) and answers from a
script (status codes, headers, or a hang)."""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0
    body: bytes = b"ok"
    drip_seconds: float = 0  # a pause between the body's bytes


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool  # against every secret the receiver knows: each must match one signature
    error: str = ""


class Receiver:
    def __init__(self, secrets: list[str] | None = None, *, tls: tuple[str, str] | None = None):
        self.secrets = list(secrets or [])
        self.received: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver._record(dict(self.headers.items()), body)
                reply = receiver._next()
                if reply.hang_seconds:
                    time.sleep(reply.hang_seconds)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip_seconds:
                        for byte in reply.body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.drip_seconds)
                    else:
                        self.wfile.write(reply.body)
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:  # (certificate file, key file): an HTTPS receiver
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def _next(self) -> Reply:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        verified, error = True, ""
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError as failed:
                verified, error = False, str(failed)
        with self._lock:
            self.received.append(
                Received(
                    headers={k.lower(): v for k, v in headers.items()},
                    body=body,
                    verified=verified and bool(self.secrets),
                    error=error,
                )
            )

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]
