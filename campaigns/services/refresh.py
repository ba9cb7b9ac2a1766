"""Keeping rule tags and segments current: the nightly job's chunk, the on-demand refresh of one
segment, and the refresh of the few members the outbox says changed. Each runs in its caller's
transaction; what changed is written with its TagChange rows and domain events
(tag.added/tag.removed, segment.entered/segment.left)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from loyalty.extensions import ChunkResult, Registry
from members.models import Member
from members.outbox import Occurrence, publish_many

from .. import definitions
from ..definitions import Context
from ..models import MemberTag, PendingRefresh, Segment, SegmentMember, SegmentVersion, Tag, TagChange, TagSource
from ..selectors import Scope, current_rfm_cut, evaluation_context
from . import audiences
from .tags import Who, record_added, remove_rows

# What pins a segment version (a running campaign's audience): functions returning the version ids
# in use, registered by the apps that target segments. A pinned version is refreshed like the
# current one, so an edit of the definition never changes a running audience.
pin_sources: Registry = Registry("segment pin source")

RULE = Who(TagSource.RULE)


def live_versions() -> list[SegmentVersion]:
    """The dynamic versions kept current: each active dynamic segment's current version, every
    version being computed to replace one (once its computation has started from the current
    version's members), and every pinned one."""
    pinned = {version_id for source in pin_sources for version_id in source()}
    versions = SegmentVersion.objects.filter(segment__kind=Segment.Kind.DYNAMIC).select_related("segment")
    current = versions.filter(segment__active=True, segment__current_version=F("pk"))
    computing = versions.filter(segment__active=True, computing=True, chunks_total__gt=0)
    return list((current | computing | versions.filter(pk__in=pinned)).distinct().order_by("pk"))


def stamp_computed(moment: datetime) -> None:
    """The live versions were all refreshed as of `moment` (those being computed keep the moment
    their computation is as of)."""
    live = [version.pk for version in live_versions()]
    SegmentVersion.objects.filter(pk__in=live, computing=False).update(computed_at=moment)


def rule_tags() -> list[Tag]:
    return list(Tag.objects.filter(kind=Tag.Kind.RULE, active=True).order_by("pk"))


@dataclass
class Changes:
    """What a refresh changed (or, in a dry run, would have)."""

    entered: dict[str, int] = field(default_factory=dict)  # "segment:code" / "tag:code" -> members
    left: dict[str, int] = field(default_factory=dict)
    expired_tags: int = 0

    def count(self, key: str, entered: int, left: int) -> None:
        if entered:
            self.entered[key] = self.entered.get(key, 0) + entered
        if left:
            self.left[key] = self.left.get(key, 0) + left

    def merge(self, other: Changes) -> None:
        for key, entered in other.entered.items():
            self.count(key, entered, 0)
        for key, left in other.left.items():
            self.count(key, 0, left)
        self.expired_tags += other.expired_tags

    @property
    def members_changed(self) -> int:
        return sum(self.entered.values()) + sum(self.left.values()) + self.expired_tags


def refresh_scope(
    *,
    scope: Scope,
    context: Context,
    tags: Iterable[Tag] | None = None,
    versions: Iterable[SegmentVersion] | None = None,
    expire: bool = True,
    run_id: int | None = None,
) -> Changes:
    """Refresh the rule tags and live segment versions (all, unless given) for the members of
    `scope`, and remove the tags that expired by the context's moment.

    First who would change in every audience is found, and all of them are locked at once, in id
    order; only then is anything written (each version's row, for its count, in id order after
    them). So the nightly job, a version's computation and the refresh of changed members, which
    may cover the same members at once, take their locks in one order and never deadlock. Expired
    tags are removed first, then the rule tags, then the segments: an audience that names a tag
    also checks again every member whose tags this refresh changes, so it follows them at once."""
    now = timezone.now()
    tags = rule_tags() if tags is None else list(tags)
    versions = live_versions() if versions is None else sorted(versions, key=lambda version: version.pk)
    due = MemberTag.objects.filter(scope.on("member_id"), expires_at__lte=context.as_of)
    expiring = set(due.values_list("member_id", flat=True)) if expire else set()
    # The members whose tags this refresh may change: an audience that names a tag may change for
    # them too once those tags are written, so they are among the members it checks again.
    retagged = set(expiring)

    def plan(node, current) -> list[int]:
        found = audiences.changing(node, context, scope, current)
        return sorted(retagged.union(found)) if definitions.references(node).get("tags") else found

    tag_plans = []
    for tag in tags:
        node, current = definitions.parse(tag.definition), MemberTag.objects.filter(tag=tag)
        tag_plans.append((tag, node, current, plan(node, current)))
        retagged.update(tag_plans[-1][3])
    version_plans = []
    for version in versions:
        node, members = definitions.parse(version.definition), SegmentMember.objects.filter(version=version)
        version_plans.append((version, node, members, plan(node, members)))
    audiences.lock_members(sorted(retagged.union(*(ids for *_, ids in version_plans))))
    changes = Changes()
    if expiring:
        changes.expired_tags = _expire(due.filter(member_id__in=expiring), now)
    for tag, node, current, ids in tag_plans:
        entered, left = _write_rule_tag(tag, node, current, ids, scope, context, now)
        changes.count(f"tag:{tag.code}", entered, left)
    for version, definition, members, member_ids in version_plans:
        started = time.perf_counter()
        entered, left = _write_version(version, definition, members, member_ids, scope, context, now)
        changes.count(f"segment:{version.segment.code}", entered, left)
        if run_id is not None and not version.computing:  # compute_version sums its own chunks' times
            # The version's compute time is the sum of its chunks' times in the latest run.
            elapsed = round((time.perf_counter() - started) * 1000)
            SegmentVersion.objects.filter(pk=version.pk).update(
                compute_ms=Case(When(last_run_id=run_id, then=F("compute_ms") + elapsed), default=Value(elapsed)),
                last_run_id=run_id,
            )
    return changes


def _write_rule_tag(
    tag: Tag, node, current, changing: list[int], scope: Scope, context: Context, now: datetime
) -> tuple[int, int]:
    """Bring the carriers of one rule tag among the `changing` members (locked) in line with its
    rule: each change a TagChange row and a tag.added / tag.removed event."""
    if not changing:
        return 0, 0
    if not audiences.set_based():
        found = audiences.checked_again(node, context, changing, current)
        rows = MemberTag.objects.bulk_create(
            MemberTag(member_id=pk, tag=tag, source=TagSource.RULE, set_at=now) for pk in found.entered
        )
        occurrences = record_added(rows, RULE, TagChange.Reason.RULE, now)
        gone = list(current.filter(member_id__in=found.left).select_related("tag"))
        occurrences += remove_rows(gone, RULE, TagChange.Reason.RULE, now)
        publish_many(occurrences)
        return len(found.entered), len(found.left)
    wanted, params = audiences.selected_among(node, context, scope, changing)
    added = {"tag": tag.code, "source": TagSource.RULE, "expires_at": None}
    removed = {"tag": tag.code, "reason": TagChange.Reason.RULE}
    return audiences.write_changes(
        f"""wanted AS ({wanted}),
            have AS (SELECT member_id FROM {MemberTag._meta.db_table}
                     WHERE tag_id = %s AND member_id IN (SELECT unnest(%s::bigint[]))),
            added AS (INSERT INTO {MemberTag._meta.db_table} (member_id, tag_id, source, set_at)
                      SELECT e.id, %s, %s, %s FROM (SELECT id FROM wanted EXCEPT SELECT member_id FROM have) AS e
                      RETURNING member_id),
            removed AS (DELETE FROM {MemberTag._meta.db_table}
                        WHERE tag_id = %s AND member_id IN (SELECT member_id FROM have EXCEPT SELECT id FROM wanted)
                        RETURNING member_id),
            history AS (INSERT INTO {TagChange._meta.db_table} (member_id, tag_id, action, source, reason, note,
                                                                 created_at)
                        SELECT member_id, %s, %s, %s, %s, '', %s FROM added
                        UNION ALL SELECT member_id, %s, %s, %s, %s, '', %s FROM removed)""",
        [
            *params,
            *(tag.pk, changing),
            *(tag.pk, TagSource.RULE, now),
            tag.pk,
            *(tag.pk, TagChange.Action.ADDED, TagSource.RULE, TagChange.Reason.RULE, now),
            *(tag.pk, TagChange.Action.REMOVED, TagSource.RULE, TagChange.Reason.RULE, now),
        ],
        events=(("tag.added", added), ("tag.removed", removed)),
        now=now,
    )


def _write_version(
    version: SegmentVersion, node, current, changing: list[int], scope: Scope, context: Context, now: datetime
) -> tuple[int, int]:
    """Bring one dynamic version's members among the `changing` members (locked) in line with its
    definition: each change a segment.entered / segment.left event, and the version's count kept."""
    if not changing:
        return 0, 0
    payload = {"segment": version.segment.code, "version": version.number}
    if not audiences.set_based():
        found = audiences.checked_again(node, context, changing, current)
        SegmentMember.objects.bulk_create(
            SegmentMember(version=version, member_id=pk, entered_at=now) for pk in found.entered
        )
        current.filter(member_id__in=found.left).delete()
        SegmentVersion.objects.filter(pk=version.pk).update(
            member_count=F("member_count") + len(found.entered) - len(found.left)
        )
        publish_many(
            [Occurrence("segment.entered", payload, pk, now) for pk in found.entered]
            + [Occurrence("segment.left", payload, pk, now) for pk in found.left]
        )
        return len(found.entered), len(found.left)
    wanted, params = audiences.selected_among(node, context, scope, changing)
    members = SegmentMember._meta.db_table
    return audiences.write_changes(
        f"""wanted AS ({wanted}),
            have AS (SELECT member_id FROM {members}
                     WHERE version_id = %s AND member_id IN (SELECT unnest(%s::bigint[]))),
            added AS (INSERT INTO {members} (version_id, member_id, entered_at)
                      SELECT %s, e.id, %s FROM (SELECT id FROM wanted EXCEPT SELECT member_id FROM have) AS e
                      RETURNING member_id),
            removed AS (DELETE FROM {members}
                        WHERE version_id = %s AND member_id IN (SELECT member_id FROM have EXCEPT SELECT id FROM wanted)
                        RETURNING member_id),
            counted AS (UPDATE {SegmentVersion._meta.db_table}
                        SET member_count = member_count + (SELECT COUNT(*) FROM added) - (SELECT COUNT(*) FROM removed)
                        WHERE id = %s)""",
        [*params, *(version.pk, changing), *(version.pk, now), version.pk, version.pk],
        events=(("segment.entered", payload), ("segment.left", payload)),
        now=now,
    )


def _expire(rows_due, now: datetime) -> int:
    """Remove the expired tags of members already locked."""
    rows = list(rows_due.select_related("tag"))
    publish_many(remove_rows(rows, None, TagChange.Reason.EXPIRED, now))
    return len(rows)


def refresh_chunk(first_id: int, last_id: int, as_of: datetime, *, period: str, run_id: int) -> ChunkResult:
    """The nightly job's work for one chunk of members."""
    context = evaluation_context(as_of, cut=current_rfm_cut())
    changes = refresh_scope(scope=Scope(first_id=first_id, last_id=last_id), context=context, run_id=run_id)
    return ChunkResult(members_changed=changes.members_changed, entries_written=0)


def finish_run(*, run) -> None:
    """When the nightly run is done: the live versions were computed as of its moment."""
    if not run.dry_run:
        stamp_computed(run.as_of)


# --- one member at a time, when the domain events say they changed ----------------------------------------

# Events about a member that can change which tags and segments they are in (all but the refresh's own
# segment events: a rule tag's change can move a member into a segment that names the tag).
CHANGING_TYPES = frozenset(
    {
        "member.enrolled",
        "member.updated",
        "member.status_changed",
        "points.earned",
        "points.spent",
        "points.refunded",
        "points.expired",
        "points.adjusted",
        "growth.changed",
        "tier.upgraded",
        "tier.downgraded",
        "tag.added",
        "tag.removed",
    }
)
WAIT_SECONDS = 30  # changes to one member within this wait are one refresh
PENDING_PER_RUN = 500


def note_changed_members(events) -> None:
    """The outbox subscriber: remember the members the events are about (once each; the earliest
    change's time is kept, so a member changing all the time is still refreshed)."""
    external_ids = {event.member for event in events if event.member}
    if not external_ids:
        return
    now = timezone.now()
    ids = Member.objects.filter(external_id__in=external_ids).values_list("pk", flat=True)
    PendingRefresh.objects.bulk_create(
        [PendingRefresh(member_id=pk, noted_at=now) for pk in ids], ignore_conflicts=True
    )


def refresh_pending(*, now: datetime | None = None, limit: int = PENDING_PER_RUN) -> Changes:
    """Refresh the rule tags and live segments of the members noted at least WAIT_SECONDS ago (at
    most `limit`), in one transaction; rows another run holds are skipped."""
    moment = now or timezone.now()
    with transaction.atomic():
        due = PendingRefresh.objects.filter(noted_at__lte=moment - timedelta(seconds=WAIT_SECONDS))
        claimed = list(
            due.select_for_update(skip_locked=True).order_by("member_id").values_list("member_id", flat=True)[:limit]
        )
        if not claimed:
            return Changes()
        context = evaluation_context(moment, cut=current_rfm_cut())
        changes = refresh_scope(scope=Scope(ids=tuple(claimed)), context=context, expire=False)
        PendingRefresh.objects.filter(member_id__in=claimed).delete()
    return changes
