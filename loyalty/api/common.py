"""What every API view shares: reading a JSON object body that names only known fields, pagination
that refuses a page size it cannot honour, and the documented error responses for the schema."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from . import serializers as s


def json_object(request, allowed: set[str]) -> dict[str, Any]:
    """The JSON body as an object, refusing fields the endpoint does not know: a typo must never be
    silently ignored."""
    body = request.data
    if not isinstance(body, dict):
        raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    unknown = sorted(set(body) - allowed, key=str)
    if unknown:
        raise ValidationError({key: ["Unknown field."] for key in unknown})
    return body


def documented_errors(*codes_and_statuses: tuple[int, list[str]]) -> dict:
    return {
        code: OpenApiResponse(s.ErrorSerializer, description=", ".join(names)) for code, names in codes_and_statuses
    }


COMMON_ERRORS = documented_errors(
    (400, ["validation_error"]),
    (401, ["not_authenticated"]),
    (403, ["permission_denied"]),
    (413, ["payload_too_large"]),
    (429, ["throttled"]),
    (503, ["service_unavailable"]),
)
MEMBER_ERRORS = {**COMMON_ERRORS, **documented_errors((404, ["member_not_found"]))}

MAX_PAGE_SIZE = 200


class Pagination(PageNumberPagination):
    """Pages of 50 by default. A page or page_size that is not a whole number in range is refused
    rather than quietly replaced, and the schema says so."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE_SIZE):
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {MAX_PAGE_SIZE}."]})
        return super().get_page_size(request)

    def get_page_number(self, request, paginator):
        """A whole number from 1, as the schema says: an empty or other value is refused, not read as
        page 1 (past the last page stays 404 not_found)."""
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_query_param: ["A whole number from 1."]})
        return super().get_page_number(request, paginator)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number from 1 (past the last page is 404 not_found).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, 1 to {MAX_PAGE_SIZE} (default {self.page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]
