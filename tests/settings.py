"""The test suite's settings: the project's own, with a fixed secret key when none is given (the
project refuses to start without one unless DEBUG is on)."""

import os

# The tests' webhook receivers listen on 127.0.0.1 over plain HTTP (tests/webhooks/receiver.py).
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE", "1")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-in-production-0123456789")

from config.settings import *  # noqa: E402,F403
