"""The member card a storefront shows (`GET members/{external_id}/`): the member, the points expiring
soon, and the sections the apps above the engine add (loyalty.extensions.card_sections: rewards adds
the tier's benefits with this period's grants).

It is the API's most frequent request. On PostgreSQL it is one prepared statement that returns the
member row, the configuration version, the expiring lots and each section's columns (a LATERAL
subquery per section, one row each); the separate reads took five round trips and most of the
request's CPU. Other databases (the SQLite demo) compose the same card from the sections' own reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from loyalty import extensions
from loyalty.config import ProgramConfig, config_at_version, last_config
from loyalty.models import PointsEntry, ProgramSettings
from members.db import fetch_all
from members.errors import MemberNotFound
from members.models import Member
from members.selectors import get_member, member_columns, member_from_row

from .members import EXPIRING_WINDOW, ExpiringPoints, MemberCard, member_card, next_tier_of


@dataclass(frozen=True)
class StorefrontCard:
    card: MemberCard
    sections: dict[str, Any]  # each registered section's object, by name

    # The card's own parts, as MemberCardSerializer reads them.
    @property
    def member(self) -> Member:
        return self.card.member

    @property
    def next_tier(self):
        return self.card.next_tier

    @property
    def to_next(self) -> int:
        return self.card.to_next

    @property
    def expiring(self) -> list[ExpiringPoints]:
        return self.card.expiring


def storefront_card(*, external_id: str, now: datetime) -> StorefrontCard:
    """The card of the member with this external_id; raises MemberNotFound."""
    if connection.vendor != "postgresql":
        return composed_card(member=get_member(external_id=external_id, with_tier=False), now=now)
    guess = last_config()
    params = _section_params(now, guess)
    row = _card_row(external_id, now, params)
    if row is None:
        raise MemberNotFound(f"No member with external_id {external_id!r}.")
    config = config_at_version(row[0])
    if config is not guess and _section_params(now, config) != params:
        # The configuration changed since this process last read it (the time zone, say) in a way
        # a section's parameters depend on: read the card again with the current one.
        row = _card_row(external_id, now, _section_params(now, config))
        if row is None:
            raise MemberNotFound(f"No member with external_id {external_id!r}.")
    return _card(row, config, now)


def composed_card(*, member: Member, now: datetime) -> StorefrontCard:
    """The same card from the separate reads: the engine's and each section's own `load`."""
    card = member_card(member=member, now=now)
    return StorefrontCard(card, {name: s.load(member, now) for name, s in extensions.card_sections.items()})


def _section_params(now: datetime, config: ProgramConfig) -> list[list[Any]]:
    return [section.params(now, config) for section in extensions.card_sections]


def _card_row(external_id: str, now: datetime, section_params: list[list[Any]]) -> tuple | None:
    sections = extensions.card_sections.items()
    columns = "".join(f", s{i}.*" for i in range(len(sections)))
    laterals = "".join(f"LEFT JOIN LATERAL ({section.sql()}) s{i} ON true\n" for i, (_, section) in enumerate(sections))
    settings_table, settings_pk = ProgramSettings._meta.db_table, ProgramSettings._meta.pk.column
    rows = fetch_all(
        f"""SELECT (SELECT config_version FROM {settings_table} WHERE {settings_pk} = %s), {member_columns("m")},
                   lots.expires_at, lots.amount{columns}
            FROM {Member._meta.db_table} m
            LEFT JOIN LATERAL (
                SELECT array_agg(expires_at ORDER BY expires_at) AS expires_at,
                       array_agg(amount ORDER BY expires_at) AS amount
                FROM (SELECT expires_at, SUM(remaining) AS amount FROM {PointsEntry._meta.db_table}
                      WHERE member_id = m.id AND remaining > 0 AND expires_at <= %s
                      GROUP BY expires_at) open_lots
            ) lots ON true
            {laterals}
            WHERE m.external_id = %s""",
        [
            ProgramSettings.SINGLETON_PK,
            now + EXPIRING_WINDOW,
            *(value for params in section_params for value in params),
            external_id,
        ],
        prepare=True,
    )
    return rows[0] if rows else None


def _card(row: tuple, config: ProgramConfig, now: datetime) -> StorefrontCard:
    member = member_from_row(row[1:])
    members_end = 1 + len(Member._meta.concrete_fields)
    member.tier = config.tier(member.tier_id)
    expires_at, amounts = row[members_end], row[members_end + 1]
    expiring = [ExpiringPoints(amount=a, expires_at=e) for e, a in zip(expires_at or (), amounts or (), strict=True)]
    card = MemberCard(member=member, next_tier=next_tier_of(member, config.ladder), expiring=expiring)
    sections: dict[str, Any] = {}
    start = members_end + 2
    for name, section in extensions.card_sections.items():
        sections[name] = section.build(member, row[start : start + section.columns], now, config)
        start += section.columns
    return StorefrontCard(card, sections)
