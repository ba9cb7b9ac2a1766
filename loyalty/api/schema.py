"""The API's OpenAPI schema: the key authentication and what the request bodies enforce."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .request_fields import POSITIVE_MONEY, REQUIRED_TEXT, TEXT, WHOLE_NUMBER_ID


class StorefrontKeyScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.auth.StorefrontKeyAuthentication"
    name = "StorefrontApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`; create keys in the admin or with `manage.py create_api_key NAME`.",
        }


# What the event endpoints require together, which field-by-field schemas cannot say: a purchase needs
# a positive amount and its order_id, a return a positive amount and the purchase's order_id.
REQUIRED_ORDER_ID = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 128, "pattern": REQUIRED_TEXT},
        WHOLE_NUMBER_ID,
    ]
}
EVENT_SHAPES = [
    {
        "properties": {"type": {"enum": ["purchase"]}, "amount": POSITIVE_MONEY, "order_id": REQUIRED_ORDER_ID},
        "required": ["amount", "order_id"],
    },
    {
        "properties": {
            "type": {"enum": ["return"]},
            "amount": POSITIVE_MONEY,
            "original_order_id": REQUIRED_ORDER_ID,
        },
        "required": ["amount", "original_order_id"],
    },
    {"properties": {"type": {"not": {"enum": ["purchase", "return"]}}}},
]


def state_what_the_server_enforces(result, generator, request, public):
    """drf-spectacular's postprocessing hook: every request body refuses fields it does not name
    (the views and services do), and an event's fields required together are stated."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, component in schemas.items():
        if name.endswith("Request"):
            component["additionalProperties"] = False
    if "EventRequest" in schemas:
        schemas["EventRequest"]["anyOf"] = EVENT_SHAPES
    # Filters refuse an empty value (loyalty.api.filters.StrictFilterSet), and no query string may hold
    # a NUL character (loyalty.api.middleware.RejectNulCharacters).
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and schema.get("type") == "string" and "enum" not in schema:
                    schema["minLength"] = 1
                    schema["pattern"] = TEXT
    return result
