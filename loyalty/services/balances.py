from django.db import transaction
from django.db.models import F, Q

from loyalty.audit import member_sum
from loyalty.models import GrowthEntry, PointsEntry
from members.models import Member


@transaction.atomic
def rebuild_cached_balances() -> int:
    """Recompute every member's cached balances from the lots, in one UPDATE; returns rows changed.
    The lots are the source of truth for what is held, released and pending."""
    growth = member_sum(GrowthEntry, "remaining", amount__gt=0)
    available = member_sum(PointsEntry, "remaining", amount__gt=0, released_at__isnull=False)
    pending = member_sum(PointsEntry, "remaining", amount__gt=0, released_at__isnull=True)
    stale = (
        Member.objects.select_for_update()
        .annotate(g=growth, a=available, p=pending)
        .filter(~Q(growth_value=F("g")) | ~Q(points_available=F("a")) | ~Q(points_pending=F("p")))
    )
    stale_ids = list(stale.values_list("pk", flat=True))
    return Member.objects.filter(pk__in=stale_ids).update(
        growth_value=growth, points_available=available, points_pending=pending
    )
