"""The campaigns' part of loyalty_audit: every segment version's stored count equals its
materialised membership, every member's tag history ends in the tags they carry, and every
campaign budget counter equals the grants it counted (less what returns released)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from loyalty import extensions
from loyalty.extensions import Finding

from . import terms as campaign_terms
from .earning import CAMPAIGN_WIDE, counts_points, period_start
from .models import BudgetCounter, Campaign, CampaignGrant, MemberTag, SegmentMember, SegmentVersion, TagChange


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


def _budget_findings(limit: int) -> Iterator[Finding]:
    """Each counter is what the campaign's grants in its period add up to: points granted less
    released for points limits, grants that gave anything for grants limits."""
    from loyalty.config import current_config

    zone = current_config().settings.zone
    found = 0
    counted = BudgetCounter.objects.values_list("campaign_id", flat=True).distinct()
    for campaign in Campaign.objects.filter(pk__in=counted).order_by("pk"):
        limits_of = {
            version.pk: campaign_terms.parse_terms(campaign.kind, version.terms).budget.limits()
            for version in campaign.versions.all()
        }
        expected: dict[tuple, int] = {}
        grants = CampaignGrant.objects.filter(campaign=campaign).exclude(points=0, growth=0, coupon__isnull=True)
        for version_id, member_id, granted_at, points, released in grants.values_list(
            "version_id", "member_id", "granted_at", "points", "points_released"
        ).iterator():
            day = granted_at.astimezone(zone).date()
            for name, budget_limit in limits_of[version_id].items():
                scope = member_id if name.startswith("per_member") else CAMPAIGN_WIDE
                key = (name, scope, period_start(day, budget_limit.per))
                expected[key] = expected.get(key, 0) + (points - released if counts_points(name) else 1)
        for counter in BudgetCounter.objects.filter(campaign=campaign).order_by("pk").iterator():
            should = expected.get((counter.budget, counter.member_id, counter.period_start), 0)
            if counter.used != should:
                yield Finding(
                    "campaign budget",
                    f"{campaign.code} {counter.budget} {counter.member_id or ''} {counter.period_start}".strip(),
                    f"counter says {counter.used}, the grants {should}",
                )
                found += 1
                if found >= limit:
                    return


def register() -> None:
    extensions.audit_checks.register("segment counts", _count_findings, order=210)
    extensions.audit_checks.register("tag history", _tag_history_findings, order=220)
    extensions.audit_checks.register("campaign budgets", _budget_findings, order=230)
