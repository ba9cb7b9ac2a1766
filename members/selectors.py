from django.db import connection
from django.db.models import Q, QuerySet

from members.errors import MemberNotFound

from .db import column, concrete_field
from .models import Member, MemberNote


def get_member(*, external_id: str, with_tier: bool = True) -> Member:
    """The member. `with_tier=False` when the caller takes the tier from the cached configuration:
    then plain SQL, since compiling the ORM's query cost more than running it (every card GET)."""
    if with_tier:
        try:
            return Member.objects.select_related("tier").get(external_id=external_id)
        except Member.DoesNotExist:
            raise MemberNotFound(f"No member with external_id {external_id!r}.") from None
    rows = Member.objects.raw(f"SELECT * FROM {Member._meta.db_table} WHERE external_id = %s", [external_id])
    member = next(iter(rows), None)
    if member is None:
        raise MemberNotFound(f"No member with external_id {external_id!r}.")
    return member


_FIELDS = [f.attname for f in Member._meta.concrete_fields]


def member_columns(alias: str = "") -> str:
    """The member's columns for plain SQL, in the order `member_from_row` reads them."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{column(concrete_field(Member, name))}" for name in _FIELDS)


def member_from_row(values) -> Member:
    """A member from the first values of a plain-SQL row that selected `member_columns()`."""
    return Member.from_db(connection.alias, _FIELDS, values[: len(_FIELDS)])


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


PHONE_CHARACTERS = frozenset("0123456789+-() ")
COUNT_CAP = 100_000


def search_members(queryset: QuerySet[Member], term: str) -> QuerySet[Member]:
    """The admin's member search, every branch an index lookup: an email (case-insensitive, exact),
    a phone number (exact) or external id, or else an external id or the start of a name."""
    term = term.strip()
    if not term:
        return queryset
    if "@" in term:
        return queryset.filter(email__iexact=term)
    if set(term) <= PHONE_CHARACTERS:
        return queryset.filter(Q(phone=term) | Q(external_id=term))
    return queryset.filter(Q(external_id=term) | Q(name__istartswith=term))


def estimated_count(queryset: QuerySet) -> int:
    """A count for paging that never scans a million rows: PostgreSQL's own estimate for the whole
    table, an exact count capped at COUNT_CAP for a filtered one."""
    if not queryset.query.where and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
            )
            row = cursor.fetchone()
        if row and row[0] > 0:
            return row[0]
    return queryset.order_by()[:COUNT_CAP].count()


def member_notes(*, member: Member, limit: int = 20) -> list[MemberNote]:
    """The member's notes, newest first, with their authors."""
    return list(
        MemberNote.objects.filter(member=member).select_related("author").order_by("-created_at", "-id")[:limit]
    )
