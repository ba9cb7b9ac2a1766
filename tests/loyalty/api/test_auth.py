import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from loyalty.models import StorefrontAPIKey
from loyalty.services.storefronts import revoke_api_key

from .conftest import error_code

pytestmark = pytest.mark.django_db


def test_no_key_is_401_with_the_error_shape():
    response = APIClient(HTTP_HOST="localhost").get("/api/v1/tiers/")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided.", "fields": {}}
    }
    assert response["WWW-Authenticate"] == "Api-Key"


def test_wrong_key_is_401():
    client = APIClient(HTTP_HOST="localhost", HTTP_AUTHORIZATION="Api-Key abcdefgh.not-the-secret")
    response = client.get("/api/v1/tiers/")
    assert response.status_code == 401
    assert error_code(response) == "not_authenticated"


def test_revoked_key_is_403(api):
    revoke_api_key(prefix=StorefrontAPIKey.objects.get().prefix)
    response = api.get("/api/v1/tiers/")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


def test_create_api_key_command_prints_the_key_alone_on_the_last_line(capsys):
    call_command("create_api_key", "Mini program")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/tiers/").status_code == 200
    stored = StorefrontAPIKey.objects.get()
    assert stored.storefront.code == "mini-program"
    assert key not in stored.hashed_key


def test_throttle_answers_429_with_retry_after(api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"storefront": "3/min"}}
    cache.clear()
    statuses = [api.get("/api/v1/tiers/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/api/v1/tiers/")
    assert error_code(response) == "throttled"
    assert int(response["Retry-After"]) > 0


def test_throttle_counts_per_key(api, other_api, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"storefront": "2/min"}}
    cache.clear()
    assert [api.get("/api/v1/tiers/").status_code for _ in range(3)] == [200, 200, 429]
    assert other_api.get("/api/v1/tiers/").status_code == 200


def test_a_key_revoked_here_stops_at_once_even_after_use(api):
    assert api.get("/api/v1/tiers/").status_code == 200  # verified and remembered by this process
    revoke_api_key(prefix=StorefrontAPIKey.objects.get().prefix)
    assert error_code(api.get("/api/v1/tiers/")) == "permission_denied"


def test_a_key_revoked_elsewhere_stops_within_the_cache_bound(api, settings, monkeypatch):
    """Another process revoking the key does not reach this one's memory: the key keeps working
    for at most API_KEY_CACHE_SECONDS (docs/api.md), then the database says no."""
    from loyalty.api import auth

    settings.API_KEY_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    assert api.get("/api/v1/tiers/").status_code == 200
    StorefrontAPIKey.objects.update(revoked=True)  # no signal: as if done by another process
    clock[0] += 4.9
    assert api.get("/api/v1/tiers/").status_code == 200
    clock[0] += 0.2
    assert error_code(api.get("/api/v1/tiers/")) == "permission_denied"


def test_a_cached_key_still_expires_on_time(api, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    StorefrontAPIKey.objects.update(expiry_date=timezone.now() + timedelta(minutes=1))
    assert api.get("/api/v1/tiers/").status_code == 200  # verified and remembered, expiry included
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert error_code(api.get("/api/v1/tiers/")) == "permission_denied"
