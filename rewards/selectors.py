"""Reads beyond a .get(): the catalog as a member sees it, coupons, redemptions, benefits, job previews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from loyalty.config import current_config
from loyalty.job_summaries import line
from loyalty.models import ProgramSettings, Tier
from loyalty.program_file import decimal_text
from members.models import Member

from . import calculations
from .models import Benefit, BenefitGrant, Coupon, CouponTemplate, PointsHold, PoolCode, Redemption, Reward


def on_offer(now: datetime) -> QuerySet[Reward]:
    """Active rewards inside their visible window."""
    return (
        Reward.objects.filter(is_active=True)
        .filter(Q(visible_from__isnull=True) | Q(visible_from__lte=now))
        .filter(Q(visible_until__isnull=True) | Q(visible_until__gt=now))
        .select_related("min_tier", "coupon_template")
    )


@dataclass(frozen=True)
class Availability:
    affordable: bool
    eligible: bool
    reason: str | None  # why not eligible: tier_required, limit_reached, out_of_stock, member_frozen, ...


def availability(*, member: Member, rewards: list[Reward], now: datetime) -> dict[int, Availability]:
    """For each reward, whether the member could redeem one unit now: two queries for the whole page."""
    zone = ProgramSettings.current().zone
    rank = Tier.objects.values_list("rank", flat=True).get(pk=member.tier_id)
    limited = [r for r in rewards if r.per_member_limit is not None]
    taken = _taken_per_reward(member, limited, now, zone)
    result = {}
    for reward in rewards:
        reason = None
        if not member.can_transact:
            reason = f"member_{member.status}"
        elif reward.min_tier is not None and rank < reward.min_tier.rank:
            reason = "tier_required"
        elif reward.per_member_limit is not None and taken.get(reward.pk, 0) >= reward.per_member_limit:
            reason = "limit_reached"
        elif reward.stock_left == 0:
            reason = "out_of_stock"
        result[reward.pk] = Availability(
            affordable=member.points_available >= reward.points_cost, eligible=reason is None, reason=reason
        )
    return result


def _taken_per_reward(member: Member, rewards: list[Reward], now: datetime, zone) -> dict[int, int]:
    if not rewards:
        return {}
    conditions = Q()
    for reward in rewards:
        start, end = calculations.limit_window(reward.limit_period, now, zone)
        window = Q(reward=reward) if start is None else Q(reward=reward, created_at__gte=start, created_at__lt=end)
        conditions |= window
    rows = (
        Redemption.objects.filter(conditions, member=member)
        .exclude(status=Redemption.Status.CANCELLED)
        .values("reward")
        .annotate(total=Sum("quantity"))
    )
    return {row["reward"]: row["total"] for row in rows}


def member_coupons(*, member: Member) -> QuerySet[Coupon]:
    return Coupon.objects.filter(member=member).select_related("template").order_by("-issued_at", "-id")


def member_redemptions(*, member: Member, source: str) -> QuerySet[Redemption]:
    """The member's redemptions made through one storefront: a storefront sees only its own."""
    return redemptions_with_items().filter(member=member, source=source).order_by("-created_at", "-id")


def redemptions_with_items() -> QuerySet[Redemption]:
    return Redemption.objects.select_related("reward", "member").prefetch_related("coupons", "codes")


@dataclass(frozen=True)
class MemberBenefit:
    benefit: Benefit
    period: str | None  # the current entitlement period (2026-11, 2026), None for described-only benefits
    grant: BenefitGrant | None  # what was granted in that period, if anything yet


def member_benefits(*, member: Member, now: datetime) -> list[MemberBenefit]:
    """The benefits of the member's tier, each with what was granted in its current period."""
    benefits = list(tier_benefits(tier_id=member.tier_id))
    if not benefits:
        return []
    periods = benefit_periods(now, current_config().settings.zone)
    grants = {
        (grant.benefit_id, grant.period): grant
        for grant in BenefitGrant.objects.filter(member=member, benefit__in=benefits, period__in=set(periods.values()))
    }
    result = []
    for benefit in benefits:
        period = periods.get(benefit.entitlement)
        result.append(MemberBenefit(benefit, period, grants.get((benefit.pk, period)) if period else None))
    return result


def benefit_periods(now: datetime, zone: ZoneInfo) -> dict[str, str]:
    """The current entitlement period of each recurring entitlement (described-only benefits have none)."""
    return {
        Benefit.Entitlement.MONTHLY_COUPONS: calculations.month_key(now, zone),
        Benefit.Entitlement.BIRTHDAY_GIFT: calculations.year_key(now, zone),
    }


def tier_benefits(*, tier_id: int) -> QuerySet[Benefit]:
    return (
        Benefit.objects.filter(tiers=tier_id, is_active=True)
        .select_related("coupon_template")
        .order_by("sort_order", "code")
    )


def referral_rebate_percent(*, member: Member) -> Decimal | None:
    """The highest referral rebate the member's tier gives (the referral issue pays it), or None."""
    return (
        tier_benefits(tier_id=member.tier_id)
        .filter(entitlement=Benefit.Entitlement.REFERRAL_REBATE)
        .aggregate(best=Max("rebate_percent"))["best"]
    )


def pool_stock(*, pool_ids: list[int]) -> dict[int, int]:
    rows = PoolCode.objects.filter(pool_id__in=pool_ids, status=PoolCode.Status.AVAILABLE)
    return dict(rows.values_list("pool").annotate(n=Count("id")).values_list("pool", "n"))


# --- what a job would do (run_job --dry-run) ----------------------------------------------------------


def _eligible_counts(entitlement: str, **member_filter) -> list[tuple[Benefit, int]]:
    return [
        (
            benefit,
            Member.objects.filter(status=Member.Status.ACTIVE, tier__in=benefit.tiers.all(), **member_filter).count(),
        )
        for benefit in Benefit.objects.filter(is_active=True, entitlement=entitlement).order_by("pk")
    ]


def preview_monthly_benefits(as_of: datetime) -> list[dict]:
    period = calculations.month_key(as_of, ProgramSettings.current().zone)
    lines = []
    for benefit, eligible in _eligible_counts(Benefit.Entitlement.MONTHLY_COUPONS):
        done = BenefitGrant.objects.filter(benefit=benefit, period=period).count()
        lines.append(line("monthly_benefit", benefit=benefit.name, eligible=eligible, done=done, period=period))
    return lines or [line("no_monthly_benefits")]


def preview_birthday_gifts(as_of: datetime) -> list[dict]:
    zone = ProgramSettings.current().zone
    month, period = as_of.astimezone(zone).month, calculations.year_key(as_of, zone)
    lines = []
    for benefit, eligible in _eligible_counts(Benefit.Entitlement.BIRTHDAY_GIFT, birthday__month=month):
        done = BenefitGrant.objects.filter(benefit=benefit, period=period, member__birthday__month=month).count()
        lines.append(line("birthday_gift", benefit=benefit.name, eligible=eligible, done=done))
    return lines or [line("no_birthday_gifts")]


def preview_expire_coupons(as_of: datetime) -> list[dict]:
    count = Coupon.objects.filter(status=Coupon.Status.ACTIVE, valid_until__lte=as_of).count()
    return [line("coupons_to_expire", count=count)]


def preview_expired_holds(as_of: datetime) -> list[dict]:
    holds = PointsHold.objects.filter(status=PointsHold.Status.HELD, expires_at__lte=as_of)
    totals = holds.aggregate(points=Sum("amount"), holds=Count("id"))
    return [line("holds_to_release", holds=totals["holds"], points=totals["points"] or 0)]


# --- the program file -------------------------------------------------------------------------------


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _code_of(row) -> str | None:
    return row.code if row else None


def export_coupon_templates() -> list[dict]:
    """The coupon_templates section of the program file (docs/program-file.md)."""
    templates = CouponTemplate.objects.select_related("code_pool").order_by("code")
    return [
        {
            "code": t.code,
            "name": t.name,
            "description": t.description,
            "kind": t.kind,
            "value": decimal_text(t.value),
            "min_spend": decimal_text(t.min_spend),
            "valid_from": _moment(t.valid_from),
            "valid_until": _moment(t.valid_until),
            "valid_days": t.valid_days,
            "inactive_days": t.inactive_days,
            "code_pool": _code_of(t.code_pool),
            "active": t.is_active,
        }
        for t in templates
    ]


def export_rewards() -> list[dict]:
    """The rewards section of the program file."""
    rewards = Reward.objects.select_related("coupon_template", "code_pool", "min_tier").order_by("code")
    return [
        {
            "code": r.code,
            "name": r.name,
            "description": r.description,
            "image_url": r.image_url,
            "kind": r.kind,
            "points_cost": r.points_cost,
            "cash_value": decimal_text(r.cash_value),
            "stock": r.stock,
            "per_member_limit": r.per_member_limit,
            "limit_period": r.limit_period,
            "min_tier": _code_of(r.min_tier),
            "visible_from": _moment(r.visible_from),
            "visible_until": _moment(r.visible_until),
            "active": r.is_active,
            "category": r.category,
            "sort_order": r.sort_order,
            "coupon_template": _code_of(r.coupon_template),
            "code_pool": _code_of(r.code_pool),
        }
        for r in rewards
    ]


def export_benefits() -> list[dict]:
    """The benefits section of the program file."""
    benefits = Benefit.objects.select_related("coupon_template").prefetch_related("tiers").order_by("code")
    return [
        {
            "code": b.code,
            "name": b.name,
            "description": b.description,
            "tiers": sorted(tier.code for tier in b.tiers.all()),
            "entitlement": b.entitlement,
            "coupon_template": _code_of(b.coupon_template),
            "coupon_quantity": b.coupon_quantity,
            "points": b.points,
            "growth": b.growth,
            "rebate_percent": decimal_text(b.rebate_percent) if b.rebate_percent is not None else None,
            "sort_order": b.sort_order,
            "active": b.is_active,
        }
        for b in benefits
    ]


# --- the admin's member page (loyalty.extensions.member_panels) ---------------------------------------

RECENT = 10


def recent_redemptions(member: Member) -> list[Redemption]:
    return list(
        Redemption.objects.filter(member=member).select_related("reward").order_by("-created_at", "-id")[:RECENT]
    )


def recent_coupons(member: Member) -> list[Coupon]:
    return list(Coupon.objects.filter(member=member).select_related("template").order_by("-issued_at")[:RECENT])


# --- the points economics report (loyalty.extensions.economics_sources) -------------------------------


def redeemed_rewards(since: datetime) -> list[tuple[str, str, int, int, Decimal]]:
    """(code, name, units, points, cash value per unit) of the rewards redeemed since then, cancelled
    redemptions left out."""
    return list(
        Redemption.objects.filter(created_at__gte=since)
        .exclude(status=Redemption.Status.CANCELLED)
        .values_list("reward__code", "reward__name", "reward__cash_value")
        .annotate(units=Sum("quantity"), points=Sum("points_spent"))
        .values_list("reward__code", "reward__name", "units", "points", "reward__cash_value")
        .order_by("reward__code")
    )


def benefit_grants(since: datetime, zone) -> list[tuple[date, str, str | None, Decimal | None, int, int, int]]:
    """(month, tier code, coupon kind, coupon face value, grants, coupons, points) per month, tier and
    coupon template of the benefit granted."""
    rows = (
        BenefitGrant.objects.filter(granted_at__gte=since)
        .annotate(month=TruncMonth("granted_at", tzinfo=zone))
        .values_list("month", "tier__code", "benefit__coupon_template__kind", "benefit__coupon_template__value")
        .annotate(grants=Count("id"), coupons_issued=Sum("coupon_count"), points_granted=Sum("points"))
    )
    return [
        (month.date() if isinstance(month, datetime) else month, tier, kind, value, grants, coupons, points)
        for month, tier, kind, value, grants, coupons, points in rows
    ]
