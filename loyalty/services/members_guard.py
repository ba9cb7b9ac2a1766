"""Checks shared by the services before they change a member's balances."""

from loyalty.errors import InvalidInput, MemberClosed, MemberFrozen
from members.models import Member


def check_can_transact(member: Member) -> None:
    if member.status == Member.Status.FROZEN:
        raise MemberFrozen(f"Member {member.external_id} is frozen: it cannot earn or spend until unfrozen.")
    if member.status == Member.Status.CLOSED:
        raise MemberClosed(f"Member {member.external_id} is closed.")


def require_reason(reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("A reason is required.", fields={"reason": ["This field is required."]})


def require_positive_int(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{name} must be a positive whole number.", fields={name: ["Positive integer."]})
