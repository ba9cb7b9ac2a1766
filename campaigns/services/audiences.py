"""Keeping a materialised audience — a rule tag's carriers, a segment version's members — equal to
its definition, for a scope of members (a job's id range, or the few members the outbox said
changed). The set the definition selects is computed in SQL; entrants and leavers are found by
difference, then locked (the member row lock every service takes) and checked again, so two
refreshes of the same members, or a refresh and a storefront's change, never both write a change.
Closed members are in no audience.

On PostgreSQL the check again and the write are one statement per audience (see refresh.py): the
rows, their history and their domain events are written by SQL over the members the check selects,
none of them built in Python (a first computation makes every member enter). Elsewhere (the demo's
SQLite) the difference comes back to Python and the rows are written from there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from members.models import Member
from members.outbox import outbox_ctes

from ..definitions import Context, Node
from ..selectors import Scope, selected


@dataclass(frozen=True)
class Difference:
    entered: list[int]
    left: list[int]

    def __bool__(self) -> bool:
        return bool(self.entered or self.left)


def difference(node: Node, context: Context, scope: Scope, current: QuerySet) -> Difference:
    """Who should enter and who should leave: `current` is all of the audience's rows (with
    member_id); only those in the scope are read."""
    wanted = set(selected(node, context, scope).order_by().values_list("pk", flat=True))
    have = set(current.filter(scope.on("member_id")).order_by().values_list("member_id", flat=True))
    return Difference(entered=sorted(wanted - have), left=sorted(have - wanted))


def changing(node: Node, context: Context, scope: Scope, current: QuerySet) -> list[int]:
    """The members of `scope` who would enter or leave, in id order (not locked yet)."""
    found = difference(node, context, scope, current)
    return sorted({*found.entered, *found.left})


def lock_members(ids: list[int]) -> None:
    """Row-lock the members, in id order (as every service locks one member), until the caller's
    transaction ends. A refresh locks every member it may change in one such call before it writes
    anything, so two refreshes of the same members never wait on each other in a cycle."""
    if ids:
        list(Member.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def checked_again(node: Node, context: Context, changing_ids: list[int], current: QuerySet) -> Difference:
    """The difference among the members found changing, now that they are locked."""
    if not changing_ids:
        return Difference(entered=[], left=[])
    return difference(node, context, Scope(ids=tuple(changing_ids)), current)


def set_based() -> bool:
    """Whether the check again and the write are one SQL statement (PostgreSQL)."""
    return connection.vendor == "postgresql"


def selected_among(node: Node, context: Context, scope: Scope, changing: list[int]) -> tuple[str, list[Any]]:
    """PostgreSQL: a SELECT of the ids (column `id`) of the `changing` members (locked, all in
    `scope`) the definition selects now. A range scope stays a range, narrowed to the changing ids'
    (read by index like the first look), with the ids as one array parameter; a few ids stay a list."""
    narrowed = (
        Scope(ids=tuple(changing)) if scope.ids is not None else Scope(first_id=changing[0], last_id=changing[-1])
    )
    sql, params = selected(node, context, narrowed).order_by().values("pk").query.sql_with_params()
    return f"SELECT s.id FROM ({sql}) AS s (id) WHERE s.id = ANY(%s::bigint[])", [*params, changing]


def write_changes(
    ctes: str, params: list, *, events: tuple[tuple[str, dict], tuple[str, dict]], now: datetime
) -> tuple[int, int]:
    """PostgreSQL: one statement of `ctes` — which define `added` and `removed` (member_id), the
    rows written and deleted — and the domain events of both (the first of `events` for each row
    added, the second for each removed); returns how many were added and removed."""
    (entering, entered_payload), (leaving, left_payload) = events
    happened = """SELECT member_id, %s::text, %s::timestamptz, %s::jsonb, 0 FROM added
                  UNION ALL SELECT member_id, %s::text, %s::timestamptz, %s::jsonb, 1 FROM removed"""
    statement = f"""WITH {ctes}, {", ".join(outbox_ctes(happened))}
                    SELECT (SELECT COUNT(*) FROM added), (SELECT COUNT(*) FROM removed)"""
    payloads: list[Any] = [entering, now, json.dumps(entered_payload), leaving, now, json.dumps(left_payload)]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, *payloads])
        entered, left = cursor.fetchone()
    return entered, left
