from loyalty.errors import MemberNotFound

from .models import Member


def get_member(*, external_id: str) -> Member:
    try:
        return Member.objects.select_related("tier").get(external_id=external_id)
    except Member.DoesNotExist:
        raise MemberNotFound(f"No member with external_id {external_id!r}.") from None


def lock_member(*, member_id: int | None = None, external_id: str | None = None) -> Member:
    """The member row, locked until the surrounding transaction ends. Every ledger write holds it.

    No join here: when a waiter gets the lock after a concurrent upgrade, PostgreSQL re-checks the
    joined row against the new tier_id and would drop the member from the result."""
    rows = Member.objects.select_for_update()
    try:
        if member_id is not None:
            return rows.get(pk=member_id)
        return rows.get(external_id=external_id)
    except Member.DoesNotExist:
        raise MemberNotFound(
            f"No member with external_id {external_id!r}."
            if external_id is not None
            else f"No member with id {member_id}."
        ) from None
