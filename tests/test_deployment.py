"""Production settings come from the environment (README, "Running it for real"): with the README's
variables `check --deploy` has nothing to say, and without a secret key the project refuses to start
rather than run on the demo's well-known one."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "ALLOWED_HOSTS": "loyalty.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_COOKIES": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "NOTIFICATIONS_SITE_URL": "https://loyalty.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a clean environment: only what a server would have, and `env`."""
    clean = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_with_the_production_variables_prints_no_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_without_a_secret_key_the_project_refuses_to_start_unless_debug_is_on():
    refused = manage("check")
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr
    assert manage("check", DEBUG="1").returncode == 0


def test_the_proxy_header_is_read_as_django_expects_it():
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER, settings.SESSION_COOKIE_SECURE)",
        SECRET_KEY="x" * 60,
        **PRODUCTION,
    )
    assert result.stdout.strip().splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https') True"
