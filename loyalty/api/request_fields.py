"""Request fields for the OpenAPI schema, exactly as the services check them: the schema must never
allow what the server refuses as malformed, nor the reverse (tests/loyalty/api/test_schema_conformance.py).
Rules that depend on the time or on other data (docs/api.md, "Errors") cannot be said in a schema."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.services.event_input import MAX_WHOLE_NUMBER_ID

# Text: no NUL characters (PostgreSQL cannot store them); required text has a character that is not
# a space (the services strip it). Lengths count the text as sent.
# "Not a space" is spelt out: the services strip what Python counts as white space, which is not what
# a schema's `\s` (ECMAScript's) means.
TEXT = r"^[^\u0000]*$"
_PYTHON_WHITESPACE = r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
REQUIRED_TEXT = rf"^[^\u0000]*[^\u0000{_PYTHON_WHITESPACE}][^\u0000]*$"
# Money: a decimal string with at most 12 digits before the point and 2 after it, or a whole number.
MONEY = {
    "anyOf": [
        {"type": "string", "pattern": r"^\d{1,12}(\.\d{1,2})?$"},
        {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
    ],
    "description": 'A decimal string such as "199.90" (at most 2 places), or a whole number.',
}
POSITIVE_MONEY = {
    "anyOf": [
        {"type": "string", "pattern": r"^(?=.*[1-9])\d{1,12}(\.\d{1,2})?$"},
        {"type": "integer", "minimum": 1, "maximum": 999_999_999_999},
    ]
}


def _text_field(schema: dict, **kwargs) -> serializers.CharField:
    """A CharField whose schema is exactly `schema` (a class of its own: DRF rebuilds each field from
    its class and arguments for every serializer instance, so the schema cannot sit on the instance)."""
    annotated = extend_schema_field(schema)(type("TextField", (serializers.CharField,), {}))
    return annotated(**kwargs)


def required_text(max_length: int, **kwargs) -> serializers.CharField:
    schema = {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": REQUIRED_TEXT}
    return _text_field(schema, max_length=max_length, **kwargs)


def optional_text(max_length: int, **kwargs) -> serializers.CharField:
    schema = {"type": "string", "maxLength": max_length, "pattern": TEXT}
    return _text_field(schema, max_length=max_length, required=False, **kwargs)  # "" matches the pattern


# Events take ids as text or as whole numbers (storefronts often number their orders).
WHOLE_NUMBER_ID = {"type": "integer", "minimum": -MAX_WHOLE_NUMBER_ID, "maximum": MAX_WHOLE_NUMBER_ID}


def event_text(max_length: int, *, required: bool, **kwargs) -> serializers.CharField:
    text = {"type": "string", "maxLength": max_length, "pattern": REQUIRED_TEXT if required else TEXT}
    if required:
        text["minLength"] = 1
    return _text_field({"anyOf": [text, WHOLE_NUMBER_ID]}, max_length=max_length, required=required, **kwargs)


@extend_schema_field(MONEY)
class MoneyField(serializers.Field):
    pass


@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "format": "email", "maxLength": 254},
            {"type": "string", "maxLength": 0},
        ],
        "nullable": True,
    }
)
class EmailOrBlankField(serializers.Field):
    """An email address, or "" / null to clear it."""


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "pattern": r"^(19|[2-9]\d)\d\d-",
        "nullable": True,
        "description": "YYYY-MM-DD, after 1900 and not in the future; null for none.",
    }
)
class BirthdayField(serializers.Field):
    pass
