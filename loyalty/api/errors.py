"""One error shape for the whole API: {"error": {"code", "message", "fields"}} with a stable code."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, OperationalError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from loyalty.errors import ServiceUnavailable
from members.errors import LoyaltyError

logger = logging.getLogger(__name__)

_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "validation_error",
    exceptions.ValidationError: "validation_error",
}


def printable(text) -> str:
    """Text that can be sent: a request's own bad characters (a lone surrogate in an unknown field's
    name, say) come back escaped rather than failing the response."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    safe_fields = {printable(name): [printable(m) for m in problems] for name, problems in (fields or {}).items()}
    return {"error": {"code": code, "message": printable(message), "fields": safe_fields}}


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {key: [str(m) for m in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def handle_exception(exc, context):
    """DRF's EXCEPTION_HANDLER: business errors keep their code; DRF's own errors get ours."""
    if isinstance(exc, OperationalError):
        # A statement timeout, a dropped connection, a deadlock: transient, and nothing of the
        # request was stored (its transaction rolled back), so the storefront may send it again.
        logger.warning("API request refused as unavailable: %s", exc)
        exc = ServiceUnavailable("The database did not answer in time; nothing was stored. Send the request again.")
    if isinstance(exc, LoyaltyError):
        response = Response(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
        if isinstance(exc, ServiceUnavailable):
            response["Retry-After"] = str(exc.retry_after_seconds)
        return response
    if isinstance(exc, RequestDataTooBig):
        return payload_too_large()
    if isinstance(exc, DataError | UnicodeEncodeError | OverflowError):
        # A value the database cannot hold that no validator caught: e.g. a NUL character in a path
        # on PostgreSQL, a lone surrogate in a field a service stores as given, a sum beyond 64 bits.
        return Response(
            error_body("validation_error", "The request holds a value that cannot be stored or looked up."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)  # keeps headers such as Retry-After and WWW-Authenticate
    if response is None:
        return None
    code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(code, "The request is not valid.", _flatten(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body(code, f"Malformed request body: {exc.detail}", {})
    else:
        response.data = error_body(code, str(exc.detail))
    return response


@csrf_exempt  # for every method: the API is authenticated by key, never by a session cookie
def not_found(request, exception=None):
    """Django's handler404 for URLs outside any view, in the same shape; also the view of every
    unknown path under /api/, so that the demo (DEBUG=1) answers them as production does."""
    message = "Not found." if request.path.endswith("/") else "Not found. API paths end with a slash."
    return JsonResponse(error_body("not_found", message), status=status.HTTP_404_NOT_FOUND)


def payload_too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
    body = error_body("payload_too_large", f"The request body is larger than {limit} MB (API_MAX_BODY_MB).")
    return JsonResponse(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal error; it has been logged."), status=500)
