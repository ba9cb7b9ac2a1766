"""The webhooks' errors (members.errors has the base class and the codes' contract)."""

from members.errors import LoyaltyError


class InvalidEndpoint(LoyaltyError):
    code = "invalid_endpoint"
    http_status = 400


class EndpointDisabled(LoyaltyError):
    code = "endpoint_disabled"
    http_status = 409
