"""Business errors with stable codes. The API maps `code` to its JSON error shape; the admin shows
`message` as a form error; management commands print it."""


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


class UnknownEventType(LoyaltyError):
    code = "unknown_event_type"


class IdempotencyConflict(LoyaltyError):
    code = "idempotency_conflict"
    http_status = 409


class OrderNotFound(LoyaltyError):
    code = "order_not_found"


class DuplicateOrder(LoyaltyError):
    code = "duplicate_order"
    http_status = 409


class RefundExceedsOrder(LoyaltyError):
    code = "refund_exceeds_order"


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"


class SpendNotFound(LoyaltyError):
    code = "spend_not_found"
    http_status = 404


class RefundExceedsSpend(LoyaltyError):
    code = "refund_exceeds_spend"


class NotPermitted(LoyaltyError):
    code = "permission_denied"
    http_status = 403


class AdjustmentNotPending(LoyaltyError):
    code = "adjustment_not_pending"
    http_status = 409


class EventTooOld(LoyaltyError):
    code = "event_too_old"


class ServiceUnavailable(LoyaltyError):
    """The database refused for a while (a statement timeout, a dropped connection, a deadlock):
    nothing of the refused work was stored, and the same request may be sent again."""

    code = "service_unavailable"
    http_status = 503
    retry_after_seconds = 5
