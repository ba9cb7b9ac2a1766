"""The member card a storefront shows (`GET members/{external_id}/`): the member, the points expiring
soon and the tier's benefits with this period's grants.

It is the API's most frequent request. On PostgreSQL it is one prepared statement that returns the
member row, the configuration version, the expiring lots and the benefits as columns and arrays;
the separate reads took five round trips and most of the request's CPU. Other databases (the SQLite
demo) compose the same card from the separate selectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from loyalty.config import ProgramConfig, config_at_version, last_config
from loyalty.db import fetch_all
from loyalty.errors import MemberNotFound
from loyalty.models import PointsEntry, ProgramSettings
from members.models import Member
from members.selectors import get_member, member_columns, member_from_row
from rewards.models import Benefit, BenefitGrant
from rewards.selectors import MemberBenefit, benefit_periods, member_benefits

from .members import EXPIRING_WINDOW, ExpiringPoints, MemberCard, member_card, next_tier_of

BENEFIT_TIERS = Benefit.tiers.through._meta.db_table


@dataclass(frozen=True)
class StorefrontCard:
    card: MemberCard
    benefits: list[MemberBenefit]


def storefront_card(*, external_id: str, now: datetime) -> StorefrontCard:
    """The card of the member with this external_id; raises MemberNotFound."""
    if connection.vendor != "postgresql":
        member = get_member(external_id=external_id, with_tier=False)
        benefits = member_benefits(member=member, now=now)
        return StorefrontCard(card=member_card(member=member, now=now), benefits=benefits)
    periods = benefit_periods(now, last_config().settings.zone)
    row = _card_row(external_id, now, periods)
    if row is None:
        raise MemberNotFound(f"No member with external_id {external_id!r}.")
    config = config_at_version(row[0])
    current_periods = benefit_periods(now, config.settings.zone)
    if current_periods != periods:  # the time zone changed since this process last read the configuration
        row, periods = _card_row(external_id, now, current_periods), current_periods
        if row is None:
            raise MemberNotFound(f"No member with external_id {external_id!r}.")
    return _card(row, config, periods)


_BENEFIT_FIELDS = ("id", "code", "name", "description", "entitlement", "rebate_percent", "sort_order")
_GRANT_FIELDS = ("id", "period", "granted_at", "coupon_count", "points", "growth")


def _card_row(external_id: str, now: datetime, periods: dict[str, str]) -> tuple | None:
    benefit_arrays = ", ".join(f"array_agg(b.{f} ORDER BY b.sort_order, b.code)" for f in _BENEFIT_FIELDS)
    grant_arrays = ", ".join(f"array_agg(g.{f} ORDER BY b.sort_order, b.code)" for f in _GRANT_FIELDS)
    settings_table, settings_pk = ProgramSettings._meta.db_table, ProgramSettings._meta.pk.column
    rows = fetch_all(
        f"""SELECT (SELECT config_version FROM {settings_table} WHERE {settings_pk} = %s), {member_columns("m")},
                       lots.expires_at, lots.amount, {benefit_arrays}, {grant_arrays}
                FROM {Member._meta.db_table} m
                LEFT JOIN LATERAL (
                    SELECT array_agg(expires_at ORDER BY expires_at) AS expires_at,
                           array_agg(amount ORDER BY expires_at) AS amount
                    FROM (SELECT expires_at, SUM(remaining) AS amount FROM {PointsEntry._meta.db_table}
                          WHERE member_id = m.id AND remaining > 0 AND expires_at <= %s
                          GROUP BY expires_at) open_lots
                ) lots ON true
                LEFT JOIN ({BENEFIT_TIERS} bt JOIN {Benefit._meta.db_table} b ON b.id = bt.benefit_id AND b.is_active)
                       ON bt.tier_id = m.tier_id
                LEFT JOIN {BenefitGrant._meta.db_table} g
                       ON g.member_id = m.id AND g.benefit_id = b.id
                      AND g.period = CASE b.entitlement WHEN %s THEN %s WHEN %s THEN %s END
                WHERE m.external_id = %s
                GROUP BY m.id, lots.expires_at, lots.amount""",
        [
            ProgramSettings.SINGLETON_PK,
            now + EXPIRING_WINDOW,
            Benefit.Entitlement.MONTHLY_COUPONS,
            periods[Benefit.Entitlement.MONTHLY_COUPONS],
            Benefit.Entitlement.BIRTHDAY_GIFT,
            periods[Benefit.Entitlement.BIRTHDAY_GIFT],
            external_id,
        ],
        prepare=True,
    )
    return rows[0] if rows else None


def _card(row: tuple, config: ProgramConfig, periods: dict[str, str]) -> StorefrontCard:
    member = member_from_row(row[1:])
    members_end = 1 + len(Member._meta.concrete_fields)
    member.tier = config.tier(member.tier_id)
    expires_at, amounts = row[members_end], row[members_end + 1]
    expiring = [ExpiringPoints(amount=a, expires_at=e) for e, a in zip(expires_at or (), amounts or (), strict=True)]
    benefits_start = members_end + 2
    benefit_columns = row[benefits_start : benefits_start + len(_BENEFIT_FIELDS)]
    grant_columns = row[benefits_start + len(_BENEFIT_FIELDS) :]
    benefits = []
    if benefit_columns[0] and benefit_columns[0][0] is not None:  # no benefits: one row of NULLs
        benefit_rows, grant_rows = zip(*benefit_columns, strict=True), zip(*grant_columns, strict=True)
        for values, grant_values in zip(benefit_rows, grant_rows, strict=True):
            benefit = Benefit(**dict(zip(_BENEFIT_FIELDS, values, strict=True)))
            grant = (
                BenefitGrant(member=member, benefit=benefit, **dict(zip(_GRANT_FIELDS, grant_values, strict=True)))
                if grant_values[0] is not None
                else None
            )
            benefits.append(MemberBenefit(benefit, periods.get(benefit.entitlement), grant))
    card = MemberCard(member=member, next_tier=next_tier_of(member, config.ladder), expiring=expiring)
    return StorefrontCard(card=card, benefits=benefits)
