"""The campaigns' part of the storefront member card: `tags`, the codes of the active tags the
member carries now (expired ones are gone at once), read in the card's one statement."""

from __future__ import annotations

from rest_framework import serializers

from loyalty import extensions

from .models import MemberTag, Tag
from .selectors import active_tags_of


def _tags_sql() -> str:
    return f"""SELECT array_agg(t.code ORDER BY t."group", t.code)
               FROM {MemberTag._meta.db_table} mt JOIN {Tag._meta.db_table} t ON t.id = mt.tag_id AND t.active
               WHERE mt.member_id = m.id AND (mt.expires_at IS NULL OR mt.expires_at > %s)"""


def register() -> None:
    extensions.card_sections.register(
        "tags",
        extensions.CardSection(
            sql=_tags_sql,
            columns=1,
            params=lambda now, config: [now],
            build=lambda member, values, now, config: list(values[0] or []),
            load=lambda member, now: [row.tag.code for row in active_tags_of([member.pk], now).get(member.pk, [])],
            body=lambda codes: codes,
            field=lambda **kwargs: serializers.ListField(
                child=serializers.CharField(), help_text="the codes of the tags the member carries", **kwargs
            ),
        ),
    )
