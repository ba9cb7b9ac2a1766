"""Errors with stable codes, the foundation every layer raises: the API maps `code` to its JSON error
shape, the admin shows `message` as a form error, management commands print it. This module holds
the base class and the errors about members, input and permissions; each layer above adds its own
(loyalty.errors, rewards.errors)."""


class LoyaltyError(Exception):
    code = "loyalty_error"
    http_status = 422

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidInput(LoyaltyError):
    code = "validation_error"
    http_status = 400


class NotPermitted(LoyaltyError):
    code = "permission_denied"
    http_status = 403


class MemberNotFound(LoyaltyError):
    code = "member_not_found"
    http_status = 404


class MemberExists(LoyaltyError):
    code = "member_exists"
    http_status = 409


class MemberFrozen(LoyaltyError):
    code = "member_frozen"


class MemberClosed(LoyaltyError):
    code = "member_closed"
