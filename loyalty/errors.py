"""The engine's business errors (members.errors holds the base class and the errors every layer shares)."""

from members.errors import LoyaltyError


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
