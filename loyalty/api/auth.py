"""Storefront API keys (hashed by djangorestframework-api-key) and per-key throttling."""

from dataclasses import dataclass

from django.conf import settings
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


class StorefrontKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. Unknown keys are 401; revoked or expired keys 403."""

    keyword = "Api-Key"
    parser = KeyParser()

    def authenticate(self, request):
        key = self.parser.get(request)
        if not key:
            return None
        prefix, _, _ = key.partition(".")
        api_key = StorefrontAPIKey.objects.select_related("storefront").filter(prefix=prefix).first()
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked:
            raise exceptions.PermissionDenied("This API key has been revoked.")
        if api_key.has_expired:
            raise exceptions.PermissionDenied("This API key has expired.")
        return StorefrontPrincipal(api_key.storefront), api_key

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
