"""Request body parsing for the storefront API."""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class NulFreeJSONParser(JSONParser):
    """JSON bodies without NUL characters: PostgreSQL text and jsonb columns cannot hold them, so a
    body carrying one is refused here (400) instead of failing in the database (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if _has_nul(data):
            raise ParseError("Strings must not contain NUL (\\u0000) characters.")
        return data
