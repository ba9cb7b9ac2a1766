"""Putting tags on members and taking them off. Every add and remove writes a TagChange row (who,
why) and a tag.added / tag.removed domain event in the same transaction, under the member's row
lock. Rule tags are kept by their rule (campaigns.services.refresh), never set by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.models import Storefront
from members.errors import InvalidInput, LoyaltyError, MemberClosed, NotPermitted
from members.inputs import text_problem
from members.models import Member
from members.outbox import Occurrence, publish_many
from members.permissions import require_permission
from members.selectors import lock_member

from ..errors import TagKeptByRule, UnknownTag
from ..models import MemberTag, Tag, TagChange, TagSource

TAG_PERMISSION = "campaigns.tag_members"


def settable_tag(code: str, *, source: str) -> Tag:
    """The active manual tag `code`; a storefront (source api) may set only api_writable ones."""
    if not isinstance(code, str) or (problem := text_problem(code)) or not code or len(code) > 64:
        raise InvalidInput("Tag codes are text of 1 to 64 characters.", fields={"tag": [problem or "Invalid."]})
    tag = Tag.objects.filter(code=code, active=True).first()
    if tag is None:
        raise UnknownTag(f"No active tag {code!r}.", fields={"tag": ["Unknown tag."]})
    if tag.kind == Tag.Kind.RULE:
        raise TagKeptByRule(f"Tag {code!r} is kept by its rule; it cannot be set or taken off by hand.")
    if source == TagSource.API and not tag.api_writable:
        raise NotPermitted(f"Storefronts may not set or take off tag {code!r}.")
    return tag


def _expiry(tag: Tag, expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise InvalidInput("expires_at needs a time zone.", fields={"expires_at": ["Needs a time zone."]})
        if expires_at <= now:
            raise InvalidInput("expires_at is in the past.", fields={"expires_at": ["Must be in the future."]})
        return expires_at
    return now + timedelta(days=tag.ttl_days) if tag.ttl_days else None


def _note(note: str) -> str:
    if problem := text_problem(note):
        raise InvalidInput(problem, fields={"note": [problem]})
    return note[:200]


def _payload(tag: Tag, source: str, expires_at: datetime | None) -> dict:
    return {"tag": tag.code, "source": source, "expires_at": expires_at}


@dataclass(frozen=True)
class Who:
    """Who or what changes tags: a source (TagSource), the staff actor, the storefront."""

    source: str
    actor: Any = None  # a staff user
    storefront: Storefront | None = None
    note: str = ""


@transaction.atomic
def tag_member(
    *, member: Member, tag: str, source: str, actor=None, storefront=None, expires_at=None, note: str = ""
) -> tuple[MemberTag, bool]:
    """Put `tag` on the member; returns (the row, whether it was added). Setting it again changes
    nothing, except a different expiry, which replaces the old one. A staff actor needs
    campaigns.tag_members."""
    require_permission(actor, TAG_PERMISSION, "You may not change members' tags.")
    the_tag = settable_tag(tag, source=source)
    now = timezone.now()
    expiry = _expiry(the_tag, expires_at, now)
    who = Who(source, actor, storefront, _note(note))
    member = lock_member(member_id=member.pk)
    if member.status == Member.Status.CLOSED:
        raise MemberClosed(f"Member {member.external_id} is closed: no new tags.")
    existing = MemberTag.objects.filter(member=member, tag=the_tag).first()
    occurrences: list[Occurrence] = []
    if existing is not None and existing.expires_at is not None and existing.expires_at <= now:
        occurrences += remove_rows([existing], who, TagChange.Reason.EXPIRED, now)
        existing = None
    if existing is not None:
        if expires_at is not None and existing.expires_at != expiry:
            existing.expires_at = expiry
            existing.save(update_fields=["expires_at"])
        publish_many(occurrences)
        return existing, False
    row = MemberTag.objects.create(
        member=member, tag=the_tag, source=source, set_by=actor, storefront=storefront, set_at=now, expires_at=expiry
    )
    occurrences += record_added([row], who, TagChange.Reason.SET, now)
    publish_many(occurrences)
    return row, True


@transaction.atomic
def untag_member(*, member: Member, tag: str, source: str, actor=None, storefront=None, note: str = "") -> bool:
    """Take `tag` off the member; False when they did not carry it. A staff actor needs
    campaigns.tag_members."""
    require_permission(actor, TAG_PERMISSION, "You may not change members' tags.")
    the_tag = settable_tag(tag, source=source)
    who = Who(source, actor, storefront, _note(note))
    member = lock_member(member_id=member.pk)
    rows = list(MemberTag.objects.filter(member=member, tag=the_tag))
    if not rows:
        return False
    now = timezone.now()
    expired = rows[0].expires_at is not None and rows[0].expires_at <= now
    publish_many(remove_rows(rows, who, TagChange.Reason.EXPIRED if expired else TagChange.Reason.UNSET, now))
    return not expired


@dataclass(frozen=True)
class BulkResult:
    added: int
    already: int
    missing: list[str]  # external ids with no member


def tag_members(
    *,
    external_ids: Iterable[str] | None = None,
    member_ids: Iterable[int] | None = None,
    tag: str,
    source: str = TagSource.MANUAL,
    actor=None,
    expires_at=None,
    note: str = "",
    batch_size: int = 1000,
) -> BulkResult:
    """Put `tag` on many members (an admin action, a segment, an import), a batch of members per
    transaction: set-based inside each, members locked in id order. An unknown external id is
    reported, never fails the rest."""
    require_permission(actor, TAG_PERMISSION, "You may not change members' tags.")
    the_tag = settable_tag(tag, source=source)
    who = Who(source, actor, None, _note(note))
    ids, missing = _member_ids(external_ids, member_ids)
    added = already = 0
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            now = timezone.now()
            expiry = _expiry(the_tag, expires_at, now)
            batch = list(
                Member.objects.select_for_update()
                .filter(pk__in=ids[start : start + batch_size])
                .exclude(status=Member.Status.CLOSED)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            carried = set(
                MemberTag.objects.filter(member_id__in=batch, tag=the_tag)
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                .values_list("member_id", flat=True)
            )
            lapsed = list(MemberTag.objects.filter(member_id__in=batch, tag=the_tag).exclude(member_id__in=carried))
            occurrences = remove_rows(lapsed, who, TagChange.Reason.EXPIRED, now)
            rows = MemberTag.objects.bulk_create(
                MemberTag(member_id=pk, tag=the_tag, source=source, set_by=actor, set_at=now, expires_at=expiry)
                for pk in batch
                if pk not in carried
            )
            occurrences += record_added(rows, who, TagChange.Reason.SET, now)
            publish_many(occurrences)
            added, already = added + len(rows), already + len(carried)
    return BulkResult(added=added, already=already, missing=missing)


def untag_members(*, member_ids: Iterable[int], tag: str, actor=None, note: str = "", batch_size: int = 1000) -> int:
    """Take `tag` off many members (an admin action); returns how many carried it."""
    require_permission(actor, TAG_PERMISSION, "You may not change members' tags.")
    the_tag = settable_tag(tag, source=TagSource.MANUAL)
    who = Who(TagSource.MANUAL, actor, None, _note(note))
    ids = sorted(set(member_ids))
    removed = 0
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            now = timezone.now()
            batch = list(
                Member.objects.select_for_update()
                .filter(pk__in=ids[start : start + batch_size])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            rows = list(MemberTag.objects.filter(member_id__in=batch, tag=the_tag))
            publish_many(remove_rows(rows, who, TagChange.Reason.UNSET, now))
            removed += len(rows)
    return removed


def _member_ids(external_ids, member_ids) -> tuple[list[int], list[str]]:
    if member_ids is not None:
        return sorted(set(member_ids)), []
    wanted = list(dict.fromkeys(external_ids or []))
    found = dict(Member.objects.filter(external_id__in=wanted).values_list("external_id", "pk"))
    return sorted(found.values()), [external_id for external_id in wanted if external_id not in found]


def record_added(rows: Sequence[MemberTag], who: Who, reason: str, now: datetime) -> list[Occurrence]:
    """Write the TagChange rows of tags just put on members (their members locked by the caller);
    returns their events, for the caller to publish with the rest."""
    TagChange.objects.bulk_create(
        TagChange(
            member_id=row.member_id,
            tag=row.tag,
            action=TagChange.Action.ADDED,
            source=who.source,
            reason=reason,
            actor=who.actor,
            storefront=who.storefront,
            note=who.note,
            expires_at=row.expires_at,
            created_at=now,
        )
        for row in rows
    )
    return [Occurrence("tag.added", _payload(row.tag, who.source, row.expires_at), row.member_id, now) for row in rows]


def remove_rows(rows: Sequence[MemberTag], who: Who | None, reason: str, now: datetime) -> list[Occurrence]:
    """Delete the rows (their members locked by the caller) and write their TagChange rows; returns
    their events. Without `who` (the system, e.g. expiry) each change keeps its row's source."""
    if not rows:
        return []
    MemberTag.objects.filter(pk__in=[row.pk for row in rows]).delete()
    TagChange.objects.bulk_create(
        TagChange(
            member_id=row.member_id,
            tag=row.tag,
            action=TagChange.Action.REMOVED,
            source=who.source if who else row.source,
            reason=reason,
            actor=who.actor if who else None,
            storefront=who.storefront if who else None,
            note=who.note if who else "",
            created_at=now,
        )
        for row in rows
    )
    return [Occurrence("tag.removed", {"tag": row.tag.code, "reason": reason}, row.member_id, now) for row in rows]


MAX_IMPORT_ROWS = 100_000


@dataclass(frozen=True)
class ImportResult:
    added: int
    already: int
    problems: list[tuple[int, str]]  # (line, what is wrong); those lines are left out, never the rest


def import_member_tags(*, text: str, actor=None) -> ImportResult:
    """Tags from a CSV of `external_id,tag[,expires_at]` (ISO 8601 with an offset; empty: the tag's
    time to live), a header line optional; through tag_members, one tag and expiry at a time. A bad
    line, an unknown member or a tag that may not be set is reported with its line number."""
    require_permission(actor, TAG_PERMISSION, "You may not change members' tags.")
    if problem := text_problem(text):
        raise InvalidInput(problem, fields={"file": [problem]})
    groups: dict[tuple[str, datetime | None], list[tuple[int, str]]] = {}
    problems: list[tuple[int, str]] = []
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise InvalidInput(f"At most {MAX_IMPORT_ROWS} lines.", fields={"file": ["Too many lines."]})
    for line, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (line == 1 and cells[:2] == ["external_id", "tag"]):
            continue
        if len(cells) not in (2, 3) or not cells[0] or not cells[1] or len(cells[0]) > 64 or len(cells[1]) > 64:
            problems.append((line, "Expected external_id,tag[,expires_at]."))
            continue
        expires = parse_datetime(cells[2]) if len(cells) == 3 and cells[2] else None
        if len(cells) == 3 and cells[2] and (expires is None or timezone.is_naive(expires)):
            problems.append((line, "expires_at must be an ISO 8601 date-time with an offset."))
            continue
        groups.setdefault((cells[1], expires), []).append((line, cells[0]))
    added = already = 0
    for (code, expires), members in groups.items():
        try:
            result = tag_members(
                external_ids=[external_id for _, external_id in members],
                tag=code,
                source=TagSource.IMPORT,
                actor=actor,
                expires_at=expires,
            )
        except LoyaltyError as error:
            problems += [(line, error.message) for line, _ in members]
            continue
        added, already = added + result.added, already + result.already
        missing = set(result.missing)
        problems += [(line, f"No member {external_id!r}.") for line, external_id in members if external_id in missing]
    return ImportResult(added=added, already=already, problems=sorted(problems))
