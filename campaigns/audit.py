"""The campaigns' part of loyalty_audit: every segment version's stored count equals its
materialised membership, and every member's tag history ends in the tags they carry."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from loyalty import extensions
from loyalty.extensions import Finding

from .models import MemberTag, SegmentMember, SegmentVersion, TagChange


def _count_findings(limit: int) -> Iterator[Finding]:
    members = SegmentMember.objects.filter(version=OuterRef("pk")).order_by().values("version").annotate(n=Count("*"))
    counted = Coalesce(Subquery(members.values("n")), Value(0), output_field=IntegerField())
    wrong = SegmentVersion.objects.annotate(materialised=counted).exclude(member_count=F("materialised"))
    for version in wrong.select_related("segment").order_by("pk")[:limit]:
        yield Finding(
            "segment count",
            f"{version.segment.code} v{version.number}",
            f"stores {version.member_count} members, has {version.materialised}",
        )


def _tag_history_findings(limit: int) -> Iterator[Finding]:
    """A member carries a tag exactly when the last change of it was an add."""
    changes = TagChange.objects.filter(member=OuterRef("member"), tag=OuterRef("tag"))
    carried = MemberTag.objects.annotate(last_action=Subquery(changes.order_by("-pk").values("action")[:1]))
    no_add = Q(last_action__isnull=True) | ~Q(last_action=TagChange.Action.ADDED)
    wrong = carried.filter(no_add).select_related("member", "tag")
    for row in wrong.order_by("pk")[:limit]:
        yield Finding("tag history", row.member.external_id, f"carries {row.tag.code}, last change {row.last_action}")
    last_adds = TagChange.objects.filter(action=TagChange.Action.ADDED).exclude(
        Exists(changes.filter(pk__gt=OuterRef("pk")))
    )
    not_carried = last_adds.exclude(Exists(MemberTag.objects.filter(member=OuterRef("member"), tag=OuterRef("tag"))))
    for change in not_carried.select_related("member", "tag").order_by("pk")[:limit]:
        yield Finding("tag history", change.member.external_id, f"added {change.tag.code} last, does not carry it")


def register() -> None:
    extensions.audit_checks.register("segment counts", _count_findings, order=210)
    extensions.audit_checks.register("tag history", _tag_history_findings, order=220)
