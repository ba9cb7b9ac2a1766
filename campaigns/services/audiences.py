"""Keeping a materialised audience — a rule tag's carriers, a segment version's members — equal to
its definition, for a scope of members (a job's id range, or the few members the outbox said
changed). The set the definition selects is computed in SQL; entrants and leavers are found by
difference, then locked (the member row lock every service takes) and checked again, so two
refreshes of the same members, or a refresh and a storefront's change, never both write a change.
Closed members are in no audience."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from members.models import Member

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
    wanted = set(selected(node, context, scope).values_list("pk", flat=True))
    have = set(current.filter(scope.on("member_id")).values_list("member_id", flat=True))
    return Difference(entered=sorted(wanted - have), left=sorted(have - wanted))


def locked_difference(node: Node, context: Context, scope: Scope, current: QuerySet) -> Difference:
    """The difference, checked again with the members it would change row-locked (in id order, as
    every service locks one member: no deadlock) until the caller's transaction ends."""
    found = difference(node, context, scope, current)
    if not found:
        return found
    changing = tuple(sorted({*found.entered, *found.left}))
    list(Member.objects.select_for_update().filter(pk__in=changing).order_by("pk").values_list("pk", flat=True))
    return difference(node, context, Scope(ids=changing), current)
