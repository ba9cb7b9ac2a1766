"""Checks shared by the services before they change a member's balances."""

from loyalty.reason_codes import Reason
from members.errors import InvalidInput, MemberClosed, MemberFrozen
from members.models import Member


def check_can_transact(member: Member) -> None:
    if member.status == Member.Status.FROZEN:
        raise MemberFrozen(f"Member {member.external_id} is frozen: it cannot earn or spend until unfrozen.")
    if member.status == Member.Status.CLOSED:
        raise MemberClosed(f"Member {member.external_id} is closed.")


def require_reason(reason: str | Reason) -> None:
    """A person's reason is non-blank text; the system's are codes (loyalty.reason_codes)."""
    if isinstance(reason, Reason):
        return
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("A reason is required.", fields={"reason": ["This field is required."]})


def require_positive_int(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{name} must be a positive whole number.", fields={name: ["Positive integer."]})


def require_adjustment(*, amount, reason: str | Reason, actor) -> None:
    """A manual adjustment names the staff user, a reason and a non-zero whole amount."""
    require_reason(reason)
    if actor is None:
        raise InvalidInput("An adjustment needs the staff user making it.", fields={"actor": ["Required."]})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise InvalidInput("The amount must be a non-zero whole number.", fields={"amount": ["Non-zero integer."]})
