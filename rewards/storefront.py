"""The rewards' parts of the storefront API's engine endpoints, plugged in through
loyalty.extensions: the member card's `benefits` (the tier's benefits with what this period granted)
and each tier's `benefits` in `GET tiers/`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty import extensions
from loyalty.config import ProgramConfig

from .api.serializers import MemberBenefitSerializer, TierBenefitSerializer
from .models import Benefit, BenefitGrant
from .selectors import MemberBenefit, benefit_periods, member_benefits, tier_benefits

_BENEFIT_FIELDS = ("id", "code", "name", "description", "entitlement", "rebate_percent", "sort_order")
_GRANT_FIELDS = ("id", "period", "granted_at", "coupon_count", "points", "growth")
_BENEFIT_TIERS = Benefit.tiers.through._meta.db_table


def _benefits_sql() -> str:
    """The active benefits of the member's tier and this period's grant of each, as one row of arrays."""
    benefit_arrays = ", ".join(f"array_agg(b.{f} ORDER BY b.sort_order, b.code)" for f in _BENEFIT_FIELDS)
    grant_arrays = ", ".join(f"array_agg(g.{f} ORDER BY b.sort_order, b.code)" for f in _GRANT_FIELDS)
    return f"""SELECT {benefit_arrays}, {grant_arrays}
               FROM {_BENEFIT_TIERS} bt JOIN {Benefit._meta.db_table} b ON b.id = bt.benefit_id AND b.is_active
               LEFT JOIN {BenefitGrant._meta.db_table} g
                      ON g.member_id = m.id AND g.benefit_id = b.id
                     AND g.period = CASE b.entitlement WHEN %s THEN %s WHEN %s THEN %s END
               WHERE bt.tier_id = m.tier_id"""


def _benefits_params(now: datetime, config: ProgramConfig) -> list[Any]:
    periods = benefit_periods(now, config.settings.zone)
    monthly, birthday = Benefit.Entitlement.MONTHLY_COUPONS, Benefit.Entitlement.BIRTHDAY_GIFT
    return [monthly, periods[monthly], birthday, periods[birthday]]


def _benefits_build(member, values: tuple, now: datetime, config: ProgramConfig) -> list[MemberBenefit]:
    benefit_columns, grant_columns = values[: len(_BENEFIT_FIELDS)], values[len(_BENEFIT_FIELDS) :]
    if not benefit_columns[0]:  # no benefits: the aggregates are NULL
        return []
    periods = benefit_periods(now, config.settings.zone)
    benefits = []
    for benefit_values, grant_values in zip(
        zip(*benefit_columns, strict=True), zip(*grant_columns, strict=True), strict=True
    ):
        benefit = Benefit(**dict(zip(_BENEFIT_FIELDS, benefit_values, strict=True)))
        grant = (
            BenefitGrant(member=member, benefit=benefit, **dict(zip(_GRANT_FIELDS, grant_values, strict=True)))
            if grant_values[0] is not None
            else None
        )
        benefits.append(MemberBenefit(benefit, periods.get(benefit.entitlement), grant))
    return benefits


_datetime = serializers.DateTimeField()
_percent = serializers.DecimalField(max_digits=5, decimal_places=2)


def _benefits_body(benefits: list[MemberBenefit]) -> list[dict]:
    """MemberBenefitSerializer bodies, built directly like the card around them (the serializer's
    per-request field copies cost more than the card's statement); tests pin them to it."""
    return [_benefit_body(item) for item in benefits]


def _benefit_body(item: MemberBenefit) -> dict:
    benefit, grant = item.benefit, item.grant
    return {
        "code": benefit.code,
        "name": benefit.name,
        "description": benefit.description,
        "entitlement": benefit.entitlement,
        "rebate_percent": _percent.to_representation(benefit.rebate_percent)
        if benefit.rebate_percent is not None
        else None,
        "period": item.period,
        "granted": {
            "period": grant.period,
            "granted_at": _datetime.to_representation(grant.granted_at),
            "coupons": grant.coupon_count,
            "points": grant.points,
            "growth": grant.growth,
        }
        if grant is not None
        else None,
    }


def _card_benefits_field(**kwargs) -> serializers.Field:
    return MemberBenefitSerializer(many=True, help_text="the tier's benefits and what this period granted", **kwargs)


@extend_schema_field(TierBenefitSerializer(many=True))
class TierBenefitsField(serializers.Field):
    # A tier's active benefits (GET tiers/); no docstring, which the schema would show.
    def to_representation(self, tier) -> Any:
        return TierBenefitSerializer(tier_benefits(tier_id=tier.pk), many=True).data


def register() -> None:
    extensions.card_sections.register(
        "benefits",
        extensions.CardSection(
            sql=_benefits_sql,
            columns=len(_BENEFIT_FIELDS) + len(_GRANT_FIELDS),
            params=_benefits_params,
            build=_benefits_build,
            load=lambda member, now: member_benefits(member=member, now=now),
            body=_benefits_body,
            field=_card_benefits_field,
        ),
    )
    extensions.ladder_details.register(
        "benefits", extensions.LadderDetail(field=lambda: TierBenefitsField(source="*", read_only=True))
    )
