"""Refusing what no view can answer: NUL characters in the path or query string."""

from django.http import JsonResponse

from .errors import error_body


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
