"""Refusing, in the API's JSON error shape, what no view can answer: NUL characters in the path or
query string, and bodies over the documented limit."""

from django.conf import settings
from django.http import JsonResponse

from .errors import error_body, payload_too_large


class RejectNulCharacters:
    """A NUL in a path parameter or filter would reach PostgreSQL, which cannot compare text with
    one (a 500); no valid id, code or filter value contains one, so refuse the request with a 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "").lower():
            body = error_body("validation_error", "The path and query string must not contain NUL characters.")
            return JsonResponse(body, status=400)
        return self.get_response(request)


class LimitApiBodies:
    """API bodies larger than API_MAX_BODY_MB are refused with 413 before they are read. Django
    enforces the same limit (DATA_UPLOAD_MAX_MEMORY_SIZE) when a body is read, but answers with an
    HTML page; a body without a Content-Length still meets that check, and the API's exception
    handler answers it in the JSON shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return payload_too_large()
        return self.get_response(request)


class RefuseUnknownQueryParameters:
    """A query parameter the endpoint does not know (a filter's name misspelt) is refused with 400,
    as an unknown body field is: ignoring it would return the wrong rows without a word. An endpoint
    knows its filterset's filters and, when it pages, `page` and `page_size`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "cls", None)  # DRF views only
        if view_class is None or not request.GET or not request.path.startswith("/api/v1/"):
            return None
        allowed = set()
        filterset = getattr(view_class, "filterset_class", None)
        if filterset is not None:
            allowed |= set(filterset.base_filters)
        pagination = getattr(view_class, "pagination_class", None)
        if pagination is not None and getattr(view_class, "list", None) is not None:
            allowed |= {pagination.page_query_param, pagination.page_size_query_param}
        unknown = sorted(set(request.GET) - allowed)
        if not unknown:
            return None
        body = error_body(
            "validation_error", "The request is not valid.", {name: ["Unknown parameter."] for name in unknown}
        )
        return JsonResponse(body, status=400)
