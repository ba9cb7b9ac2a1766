"""Defining segments: dynamic ones by a definition (every edit a new version), static ones by an
uploaded list of external ids, snapshots frozen from a dynamic one. A new version starts from the
members of the one before it and is then refreshed chunk by chunk, so what is published
(segment.entered / segment.left) is who actually entered and left; it becomes current when done."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty.config import current_config
from loyalty.services.jobs import chunk_ranges, without_jit
from members.errors import InvalidInput
from members.models import Member
from members.outbox import Occurrence, publish_many
from members.permissions import require_permission

from .. import definitions
from ..errors import UnknownSegment
from ..models import Segment, SegmentMember, SegmentVersion, Tag
from ..selectors import Scope, current_rfm_cut, evaluation_context
from .inputs import text
from .refresh import Changes, refresh_scope, stamp_computed

CHUNK_SIZE = 10_000


def check_definition(raw) -> definitions.Node:
    """The definition's tree, its tiers and tags known; InvalidInput with the problems otherwise."""
    try:
        node = definitions.parse(raw)
    except definitions.InvalidDefinition as invalid:
        raise InvalidInput("The definition is not valid.", fields={"definition": _flatten(invalid.problems)}) from None
    named = definitions.references(node)
    problems = []
    known_tiers = {tier.code for tier in current_config().ladder}
    if unknown := sorted(named.get("tiers", set()) - known_tiers):
        problems.append(f"Unknown tiers: {', '.join(unknown)}.")
    wanted_tags = named.get("tags", set())
    if unknown := sorted(wanted_tags - set(Tag.objects.filter(code__in=wanted_tags).values_list("code", flat=True))):
        problems.append(f"Unknown tags: {', '.join(unknown)}.")
    if problems:
        raise InvalidInput("The definition is not valid.", fields={"definition": problems})
    return node


def _flatten(problems: dict[str, list[str]]) -> list[str]:
    return [f"{path}: {message}" for path, messages in problems.items() for message in messages]


def save_segment(
    *,
    code: str,
    name: str,
    definition,
    description: str = "",
    actor=None,
    as_of: datetime | None = None,
    compute: bool = True,
) -> Segment:
    """Create the dynamic segment `code`, or change it: a new definition is a new version, which
    starts from the members of the current one and is computed (compute_version) before it becomes
    current — here, or with compute=False by the caller handing it to the workers (the admin, so
    its page never waits for a million members). A staff actor needs campaigns.add_segment or
    change_segment."""
    check_definition(definition)
    name = text(name, "name", limit=128, required=True)
    description = text(description, "description", limit=2000)
    with transaction.atomic():
        segment = _segment_to_write(code, Segment.Kind.DYNAMIC, actor)
        segment.name, segment.description = name, description
        segment.full_clean(exclude=["current_version"])
        segment.save()
        newest = segment.versions.order_by("-number").first()
        if newest is not None and newest.definition == definition:
            version = newest  # unchanged (or being computed already: computing it again resumes it)
        else:
            # A version still being computed for an earlier edit is abandoned: it would never
            # become current, and computing it further would only publish changes nobody uses.
            segment.versions.filter(computing=True).update(computing=False)
            version = _new_version(segment, definition, actor, computing=True)
    if compute and version.computing:
        compute_version(version_id=version.pk, as_of=as_of)
    return Segment.objects.select_related("current_version").get(pk=segment.pk)


def compute_version(*, version_id: int, as_of: datetime | None = None, chunk_size: int = CHUNK_SIZE) -> SegmentVersion:
    """Compute a new version's members chunk by chunk (a transaction each, resumed from where it
    stopped), each as of `as_of` or, by default, the moment it is computed (the nightly job and the
    refresh of changed members keep the version current meanwhile: an older moment would undo
    them); then make it current unless a newer version is. Calling it again, or twice at once, is
    safe: a chunk done is not done again, and each change is written under the members' locks
    after checking again. A version abandoned for a newer edit stops at its next chunk."""
    version = SegmentVersion.objects.select_related("segment").get(pk=version_id)
    if not version.computing:
        return version
    _start(version, chunk_size)
    version.refresh_from_db()
    cut = current_rfm_cut()
    through = version.computed_through or 0
    for first_id, last_id in [(max(a, through + 1), b) for a, b in chunk_ranges(chunk_size) if b > through]:
        if not SegmentVersion.objects.filter(pk=version_id, computing=True).exists():
            return SegmentVersion.objects.get(pk=version_id)  # abandoned for a newer edit
        started = time.perf_counter()
        context = evaluation_context(as_of or timezone.now(), cut=cut)
        with transaction.atomic():
            without_jit()
            refresh_scope(
                scope=Scope(first_id=first_id, last_id=last_id),
                context=context,
                tags=[],
                versions=[version],
                expire=False,
            )
            # After the members' locks, as every refresh takes them; a concurrent computation of
            # the same chunk found nothing left to change and counts it once.
            SegmentVersion.objects.filter(Q(computed_through__isnull=True) | Q(computed_through__lt=last_id)).filter(
                pk=version_id
            ).update(
                computed_through=last_id,
                chunks_done=F("chunks_done") + 1,
                compute_ms=Coalesce(F("compute_ms"), 0) + round((time.perf_counter() - started) * 1000),
            )
    with transaction.atomic():
        segment = (
            Segment.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=version.segment_id)
        )
        version = SegmentVersion.objects.select_for_update().get(pk=version_id)
        if version.computing:
            version.computing = False
            version.chunks_done = version.chunks_total
            version.computed_at = as_of or timezone.now()
            version.save(update_fields=["computing", "chunks_done", "computed_at"])
            if segment.current_version is None or segment.current_version.number < version.number:
                segment.current_version = version
                segment.save(update_fields=["current_version"])
    return version


@transaction.atomic
def _start(version: SegmentVersion, chunk_size: int) -> None:
    """Once per version: its members start as the current version's (so what the computation
    publishes is who actually entered and left), and its chunks are counted. Only then is it kept
    current for the members who change (refresh.live_versions), so nothing else writes its rows or
    its count meanwhile; a second computation waits on the version's lock, then finds it started."""
    version = (
        SegmentVersion.objects.select_for_update(of=("self",))
        .select_related("segment__current_version")
        .get(pk=version.pk)
    )
    if version.chunks_total:
        return
    if (current := version.segment.current_version) is not None:
        _copy_members(current, version)
    version.chunks_total = max(len(chunk_ranges(chunk_size)), 1)
    version.save(update_fields=["chunks_total"])


def _segment_to_write(code: str, kind: str, actor) -> Segment:
    """The segment `code`, locked, or a new one of `kind` (not saved yet); the staff actor's add or
    change permission checked, and an existing segment's kind."""
    segment = Segment.objects.select_for_update().filter(code=code).first()
    if segment is None:
        require_permission(actor, "campaigns.add_segment", "You may not create segments.")
        return Segment(code=text(code, "code", limit=64, required=True), kind=kind)
    require_permission(actor, "campaigns.change_segment", "You may not change segments.")
    if segment.kind != kind:
        raise InvalidInput(
            f"Segment {code} is {segment.get_kind_display()}.", fields={"code": [f"Not a {kind} segment."]}
        )
    return segment


def _new_version(segment: Segment, definition, actor, **fields) -> SegmentVersion:
    last = segment.versions.aggregate(last=Max("number"))["last"] or 0
    return SegmentVersion.objects.create(
        segment=segment, number=last + 1, definition=definition, created_by=actor, **fields
    )


def _copy_members(source: SegmentVersion, target: SegmentVersion) -> None:
    """Set-based: one INSERT ... SELECT (a member the target has already — a refresh of a changed
    member can come first — keeps their row), then the target's count."""
    table = SegmentMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (version_id, member_id, entered_at)
                SELECT %s, member_id, entered_at FROM {table} WHERE version_id = %s
                ON CONFLICT DO NOTHING""",
            [target.pk, source.pk],
        )
    SegmentVersion.objects.filter(pk=target.pk).update(member_count=target.members.count())


class _RolledBack(Exception):
    """Leaves a dry run's chunk transaction, undoing what it wrote."""


def refresh_chunks(
    *, as_of: datetime, versions: list[SegmentVersion] | None, dry_run: bool = False, chunk_size: int = CHUNK_SIZE
) -> Changes:
    """Refresh every member, a chunk per transaction: the given versions only, or (None) every rule
    tag and live version with the expired tags. A dry run rolls each chunk back and reports what it
    would have changed."""
    context = evaluation_context(as_of, cut=current_rfm_cut())
    total = Changes()
    for first_id, last_id in chunk_ranges(chunk_size):
        scope = Scope(first_id=first_id, last_id=last_id)
        try:
            with transaction.atomic():
                without_jit()
                if versions is None:
                    total.merge(refresh_scope(scope=scope, context=context))
                else:
                    total.merge(refresh_scope(scope=scope, context=context, tags=[], versions=versions, expire=False))
                if dry_run:
                    raise _RolledBack
        except _RolledBack:
            pass
    return total


def _compute(version: SegmentVersion, as_of: datetime, *, dry_run: bool = False) -> Changes:
    """Refresh every member of one version; store when and how long (not in a dry run)."""
    started = time.perf_counter()
    version = SegmentVersion.objects.select_related("segment").get(pk=version.pk)
    changes = refresh_chunks(as_of=as_of, versions=[version], dry_run=dry_run)
    if not dry_run:
        SegmentVersion.objects.filter(pk=version.pk).update(
            computed_at=as_of, compute_ms=round((time.perf_counter() - started) * 1000), last_run_id=None
        )
    return changes


def refresh_segment(
    *, code: str, actor=None, as_of: datetime | None = None, dry_run: bool = False
) -> tuple[SegmentVersion, Changes]:
    """Recompute a dynamic segment's current version now (the admin's button, refresh_segments
    --segment); returns it with who entered and left. A staff actor needs campaigns.change_segment."""
    require_permission(actor, "campaigns.change_segment", "You may not refresh segments.")
    segment = Segment.objects.filter(code=code, kind=Segment.Kind.DYNAMIC).select_related("current_version").first()
    if segment is None or segment.current_version is None:
        raise UnknownSegment(f"No dynamic segment {code!r}.")
    version = segment.current_version
    changes = _compute(version, as_of or timezone.now(), dry_run=dry_run)
    version.refresh_from_db()
    return version, changes


def refresh_everything(*, as_of: datetime | None = None, dry_run: bool = False, actor=None) -> Changes:
    """Every rule tag and live segment, and the expired tags, now (refresh_segments without
    --segment: the nightly job's work in this process). A staff actor needs campaigns.change_segment."""
    require_permission(actor, "campaigns.change_segment", "You may not refresh segments.")
    moment = as_of or timezone.now()
    changes = refresh_chunks(as_of=moment, versions=None, dry_run=dry_run)
    if not dry_run:
        stamp_computed(moment)
    return changes


@transaction.atomic
def upload_static_segment(
    *, code: str, name: str, external_ids: Iterable[str], description: str = "", actor=None
) -> tuple[Segment, list[str]]:
    """A static segment is the list uploaded; a new upload is a new version. Returns the segment and
    the external ids with no member (left out, never failing the rest). Who entered and left
    against the previous upload is published."""
    wanted = [
        external_id.strip() for external_id in external_ids if isinstance(external_id, str) and external_id.strip()
    ]
    segment = _segment_to_write(code, Segment.Kind.STATIC, actor)
    segment.name = text(name, "name", limit=128, required=True)
    segment.description = text(description, "description", limit=2000)
    segment.full_clean(exclude=["current_version"])
    segment.save()
    found = dict(
        Member.objects.filter(external_id__in=set(wanted))
        .exclude(status=Member.Status.CLOSED)
        .values_list("external_id", "pk")
    )
    missing = sorted({external_id for external_id in wanted if external_id not in found})
    previous = segment.current_version
    before = set(previous.members.values_list("member_id", flat=True)) if previous else set()
    after = set(found.values())
    version = _new_version(segment, None, actor)
    now = timezone.now()
    entered_at = dict(previous.members.values_list("member_id", "entered_at")) if previous else {}
    SegmentMember.objects.bulk_create(
        SegmentMember(version=version, member_id=pk, entered_at=entered_at.get(pk, now)) for pk in sorted(after)
    )
    version.member_count, version.computed_at, version.compute_ms = len(after), now, 0
    version.save(update_fields=["member_count", "computed_at", "compute_ms"])
    segment.current_version = version
    segment.save(update_fields=["current_version"])
    changing = sorted(after ^ before)
    list(Member.objects.select_for_update().filter(pk__in=changing).order_by("pk").values_list("pk", flat=True))
    payload = {"segment": segment.code, "version": version.number}
    publish_many(
        [Occurrence("segment.entered", payload, pk, now) for pk in sorted(after - before)]
        + [Occurrence("segment.left", payload, pk, now) for pk in sorted(before - after)]
    )
    return segment, missing


@transaction.atomic
def freeze_segment(*, segment: Segment, code: str, name: str, actor=None) -> Segment:
    """A snapshot: the dynamic segment's members now, never recomputed (and nothing published: who
    the members are did not change)."""
    require_permission(actor, "campaigns.add_segment", "You may not create segments.")
    source = Segment.objects.select_for_update(of=("self",)).select_related("current_version").get(pk=segment.pk)
    if source.kind != Segment.Kind.DYNAMIC or source.current_version is None:
        raise InvalidInput("Only a computed dynamic segment can be frozen.", fields={"segment": ["Not dynamic."]})
    snapshot = Segment(
        code=text(code, "code", limit=64, required=True),
        name=text(name, "name", limit=128, required=True),
        kind=Segment.Kind.SNAPSHOT,
        snapshot_of=source,
    )
    snapshot.full_clean(exclude=["current_version"])
    snapshot.save()
    version = _new_version(snapshot, source.current_version.definition, actor)
    _copy_members(source.current_version, version)
    SegmentVersion.objects.filter(pk=version.pk).update(computed_at=timezone.now(), compute_ms=0)
    snapshot.current_version = version
    snapshot.save(update_fields=["current_version"])
    return Segment.objects.select_related("current_version").get(pk=snapshot.pk)
