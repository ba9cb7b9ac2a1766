"""Request body parsing for the storefront API."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from members.inputs import MAX_JSON_DEPTH, nested_deeper_than

# A body nests a little deeper than what it carries: a batch's events sit two levels down, and each
# event's `data` may nest MAX_JSON_DEPTH levels (checked per event, so one bad event is refused alone).
MAX_BODY_DEPTH = MAX_JSON_DEPTH + 8


class StorefrontJSONParser(JSONParser):
    """JSON bodies of bounded nesting. Python's parser recurses once per level and fails with a
    RecursionError (a 500) near a thousand levels; a body nested deeper than MAX_BODY_DEPTH is
    refused as malformed (400). Text the database cannot hold (NUL, lone surrogates) is refused per
    field by the services, so that one bad event of a batch does not refuse the others."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested more than {MAX_BODY_DEPTH} levels deep.") from None
        if nested_deeper_than(data, MAX_BODY_DEPTH):
            raise ParseError(f"JSON nested more than {MAX_BODY_DEPTH} levels deep.")
        return data
