"""One error shape for the whole API: {"error": {"code", "message", "fields"}} with a stable code."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from loyalty.errors import LoyaltyError

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


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {key: [str(m) for m in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def handle_exception(exc, context):
    """DRF's EXCEPTION_HANDLER: business errors keep their code; DRF's own errors get ours."""
    if isinstance(exc, LoyaltyError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
    if isinstance(exc, DataError):
        # A value the database cannot hold, e.g. a NUL character in a path or body on PostgreSQL.
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


def not_found(request, exception=None):
    """Django's handler404 for URLs outside any view, in the same shape."""
    return JsonResponse(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)


def server_error(request):
    return JsonResponse(error_body("server_error", "Internal error; it has been logged."), status=500)
