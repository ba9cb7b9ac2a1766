"""Storefront API keys (hashed by djangorestframework-api-key) and per-key throttling."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_ratelimit.core import get_usage
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.settings import api_settings
from rest_framework_api_key.permissions import KeyParser

from loyalty.models import Storefront, StorefrontAPIKey


@dataclass(frozen=True)
class StorefrontPrincipal:
    """request.user for API calls: the storefront the key belongs to."""

    storefront: Storefront
    is_authenticated: bool = True

    @property
    def source(self) -> str:
        return self.storefront.code


# Keys verified in this process: the key as sent -> (principal, key row, when it was read). Reading the
# row and hashing the key cost a query per request; a key revoked meanwhile keeps working in another
# process for at most API_KEY_CACHE_SECONDS (in this one, the save that revokes it forgets it at once).
_verified: dict[str, tuple[StorefrontPrincipal, StorefrontAPIKey, float]] = {}
_MAX_CACHED_KEYS = 1000


def forget_verified_keys() -> None:
    _verified.clear()


@receiver([post_save, post_delete], sender=StorefrontAPIKey)
def _key_changed(**kwargs) -> None:
    forget_verified_keys()


class StorefrontKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. Unknown keys are 401; revoked or expired keys 403.

    A verified key is remembered per process for `API_KEY_CACHE_SECONDS` (docs/api.md): revoking
    it takes effect within that time in every process. Expiry dates are checked on every request."""

    keyword = "Api-Key"
    parser = KeyParser()

    def authenticate(self, request):
        key = self.parser.get(request)
        if not key:
            return None
        cached = _verified.get(key)
        if cached is not None and time.monotonic() - cached[2] < settings.API_KEY_CACHE_SECONDS:
            principal, api_key, _ = cached
        else:
            principal, api_key = self._verify(key)
        if api_key.has_expired:
            raise exceptions.PermissionDenied("This API key has expired.")
        return principal, api_key

    def _verify(self, key: str) -> tuple[StorefrontPrincipal, StorefrontAPIKey]:
        prefix, _, _ = key.partition(".")
        api_key = StorefrontAPIKey.objects.select_related("storefront").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            _verified.pop(key, None)
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked:
            _verified.pop(key, None)
            raise exceptions.PermissionDenied("This API key has been revoked.")
        principal = StorefrontPrincipal(api_key.storefront)
        if settings.API_KEY_CACHE_SECONDS > 0:
            if len(_verified) >= _MAX_CACHED_KEYS:
                _verified.clear()
            _verified[key] = (principal, api_key, time.monotonic())
        return principal, api_key

    def authenticate_header(self, request):
        return self.keyword


class IsStorefront(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, StorefrontPrincipal)


class PerKeyThrottle(throttling.BaseThrottle):
    """Requests per API key, counted in fixed windows by django-ratelimit: one atomic increment of
    one integer in the default cache (Redis in production, shared by every process) per request.
    DRF's SimpleRateThrottle kept each request's timestamp in one cache value, read and rewritten
    whole on every request: at the default 60,000/min that value grew to hundreds of kilobytes."""

    scope = "storefront"

    def __init__(self):
        self.seconds_left = 0

    def allow_request(self, request, view):
        if not isinstance(request.auth, StorefrontAPIKey):
            return True
        usage = get_usage(request, group=self.scope, key=_key_prefix, rate=self.rate(), increment=True)
        if usage is None:
            return True
        self.seconds_left = usage["time_left"]
        return not usage["should_limit"]

    def rate(self) -> str:
        return str(api_settings.DEFAULT_THROTTLE_RATES[self.scope])

    def wait(self):
        return max(self.seconds_left, 1)


def _key_prefix(group, request) -> str:
    return request.auth.prefix
