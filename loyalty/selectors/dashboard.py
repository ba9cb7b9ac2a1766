"""The operations dashboard's figures. Each is one aggregate query; together they take seconds on a
million members, so the page reads a snapshot that a scheduled task refreshes (see `dashboard`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty.config import current_config
from loyalty.models import Event, GrowthEntry, JobRun, PointsEntry, ProgramSettings, TierChange
from members.models import Member
from members.permissions import require_permission

# The dashboard's figures are about the membership as a whole: every staff role may see them.
DASHBOARD_PERMISSION = "members.view_member"
CACHE_KEY = "loyalty:dashboard:v1"
CACHE_SECONDS = 15 * 60
# The beat schedule refreshes the snapshot every 5 minutes (setup_schedules); older means it is not.
STALE_AFTER = timedelta(minutes=6)
EXPIRING_HORIZONS = (30, 60, 90)
EVENT_DAYS = 30


@dataclass(frozen=True)
class TierCount:
    code: str
    name: str
    rank: int
    members: int


@dataclass(frozen=True)
class TierMovement:
    code: str
    name: str
    up: int
    down: int


@dataclass
class Dashboard:
    computed_at: datetime
    currency: str
    members_total: int
    members_active_30d: int
    members_new_this_month: int
    points_available: int
    points_pending: int
    liability: Decimal
    points_earned_this_month: int
    points_spent_this_month: int
    points_expired_this_month: int
    growth_earned_this_month: int
    pyramid: list[TierCount] = field(default_factory=list)
    events_per_day: list[tuple[date, int]] = field(default_factory=list)
    last_recalculation: str | None = None
    movements: list[TierMovement] = field(default_factory=list)
    expiring: list[tuple[int, int]] = field(default_factory=list)

    @property
    def points_outstanding(self) -> int:
        return self.points_available + self.points_pending


def _month_start(now: datetime, zone) -> datetime:
    return now.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def compute_dashboard(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    program = ProgramSettings.current()
    zone = program.zone
    month_start = _month_start(now, zone)
    members = Member.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(last_activity_at__gte=now - timedelta(days=30))),
        new=Count("id", filter=Q(joined_at__gte=month_start)),
        available=Sum("points_available"),
        pending=Sum("points_pending"),
    )
    points = PointsEntry.objects.filter(created_at__gte=month_start, created_at__lte=now).aggregate(
        earned=Sum("amount", filter=Q(kind=PointsEntry.Kind.EARN)),
        spent=Sum("amount", filter=Q(kind=PointsEntry.Kind.SPEND)),
        expired=Sum("amount", filter=Q(kind=PointsEntry.Kind.EXPIRE)),
    )
    growth = GrowthEntry.objects.filter(
        created_at__gte=month_start, created_at__lte=now, kind=GrowthEntry.Kind.EARN
    ).aggregate(earned=Sum("amount"))
    available, pending = members["available"] or 0, members["pending"] or 0
    movements, period = _last_recalculation_movements()
    return Dashboard(
        computed_at=now,
        currency=program.currency,
        members_total=members["total"],
        members_active_30d=members["active"],
        members_new_this_month=members["new"],
        points_available=available,
        points_pending=pending,
        liability=(Decimal(available + pending) * program.point_value).quantize(Decimal("0.01")),
        points_earned_this_month=points["earned"] or 0,
        points_spent_this_month=-(points["spent"] or 0),
        points_expired_this_month=-(points["expired"] or 0),
        growth_earned_this_month=growth["earned"] or 0,
        pyramid=_pyramid(),
        events_per_day=_events_per_day(now, zone),
        last_recalculation=period,
        movements=movements,
        expiring=_expiring(now),
    )


def members_per_tier() -> dict[int, int]:
    return dict(Member.objects.values_list("tier").annotate(n=Count("id")).values_list("tier", "n").order_by())


def _pyramid() -> list[TierCount]:
    counts = members_per_tier()
    return [TierCount(t.code, t.name, t.rank, counts.get(t.pk, 0)) for t in current_config().ladder]


def _events_per_day(now: datetime, zone) -> list[tuple[date, int]]:
    first_day = now.astimezone(zone).date() - timedelta(days=EVENT_DAYS - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=zone)
    rows = (
        Event.objects.filter(occurred_at__gte=since, occurred_at__lte=now)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    per_day = dict(rows)
    return [(first_day + timedelta(days=i), per_day.get(first_day + timedelta(days=i), 0)) for i in range(EVENT_DAYS)]


def _last_recalculation_movements() -> tuple[list[TierMovement], str | None]:
    """Per tier, how many members the last finished recalculation moved into it from below (up) and
    from above (down)."""
    run = JobRun.objects.filter(job="recalculate_tiers", dry_run=False, status=JobRun.Status.DONE).first()
    if run is None:
        return [], None
    rows = (
        TierChange.objects.filter(period=run.period, reason=TierChange.Reason.RECALCULATION)
        .values_list("from_tier__rank", "to_tier")
        .annotate(n=Count("id"))
        .values_list("from_tier__rank", "to_tier", "n")
    )
    ladder = current_config().ladder
    up: dict[int, int] = {}
    down: dict[int, int] = {}
    rank_of = {t.pk: t.rank for t in ladder}
    for from_rank, to_tier, n in rows:
        target = up if from_rank is None or from_rank < rank_of.get(to_tier, 0) else down
        target[to_tier] = target.get(to_tier, 0) + n
    return [TierMovement(t.code, t.name, up.get(t.pk, 0), down.get(t.pk, 0)) for t in ladder], run.period


def _expiring(now: datetime) -> list[tuple[int, int]]:
    horizon = {days: now + timedelta(days=days) for days in EXPIRING_HORIZONS}
    totals = PointsEntry.objects.filter(remaining__gt=0, expires_at__gt=now, expires_at__lte=horizon[90]).aggregate(
        **{f"d{days}": Sum("remaining", filter=Q(expires_at__lte=horizon[days])) for days in EXPIRING_HORIZONS}
    )
    return [(days, totals[f"d{days}"] or 0) for days in EXPIRING_HORIZONS]


def refresh_dashboard(*, actor=None) -> Dashboard:
    """Recompute the snapshot now; a staff `actor` needs members.view_member, as the dashboard does."""
    require_permission(actor, DASHBOARD_PERMISSION, "You may not see the dashboard's figures.")
    dashboard = compute_dashboard()
    cache.set(CACHE_KEY, dashboard, CACHE_SECONDS)
    return dashboard


def dashboard() -> Dashboard:
    """The latest snapshot (refreshed every 5 minutes by the `refresh_dashboard` task), or a fresh
    one when there is none or it is older than that schedule allows: then nothing is refreshing it
    (the demo runs no beat), and the page must not show old figures as current."""
    snapshot = cache.get(CACHE_KEY)
    if snapshot is None or timezone.now() - snapshot.computed_at > STALE_AFTER:
        return refresh_dashboard()
    return snapshot


def as_chart_data(snapshot: Dashboard) -> dict:
    """What the page's charts draw, as JSON-ready values."""
    return {
        "pyramid": [asdict(t) for t in snapshot.pyramid],
        "events": {
            "days": [d.isoformat() for d, _ in snapshot.events_per_day],
            "counts": [n for _, n in snapshot.events_per_day],
        },
        "movements": [asdict(m) for m in snapshot.movements],
        "expiring": [{"days": d, "points": n} for d, n in snapshot.expiring],
    }
