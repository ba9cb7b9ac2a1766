"""Storefront API keys (hashed by djangorestframework-api-key) and per-key throttling."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework import authentication, exceptions, permissions, throttling
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


class PerKeyThrottle(throttling.SimpleRateThrottle):
    """Requests per API key; the counters live in the default cache (Redis in production)."""

    scope = "storefront"

    def get_rate(self):
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][self.scope]

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, StorefrontAPIKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
