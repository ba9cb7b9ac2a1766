"""The program file's tags and segments sections: the issue's example is accepted, a dry run shows
the diff and writes nothing, problems are refused by path, and export then import changes nothing."""

from __future__ import annotations

import pytest

from campaigns.models import Segment, Tag
from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services.program import apply_program
from members.errors import InvalidInput
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

EXAMPLE = {
    "tags": [
        {
            "code": "vip-event-2026",
            "name": "VIP event guest",
            "group": "events",
            "kind": "manual",
            "ttl_days": None,
            "api_writable": True,
        },
        {
            "code": "dormant_90d",
            "name": "Dormant 90 days",
            "group": "lifecycle",
            "kind": "rule",
            "definition": {
                "all": [
                    {"days_since_last_purchase": {"gte": 90}},
                    {"purchases_in_days": {"days": 3650, "count": {"gte": 1}}},
                ]
            },
        },
    ],
    "segments": [
        {"code": "gold-plus", "name": "Gold and up", "kind": "dynamic", "definition": {"tier": {"at_least": "gold"}}}
    ],
}


def run(document, **options) -> list[str]:
    return apply_program(document=parse_program(document), **options)


def test_the_issues_example_is_accepted_and_a_dry_run_shows_the_diff(program, tiers):
    MemberFactory(tier=tiers["gold"])
    changes = run(EXAMPLE, dry_run=True)
    assert any(line.startswith("tag vip-event-2026") for line in changes)
    assert "segment gold-plus: created (1 members)" in changes
    assert "tag new_30d: deactivated (not in the file)" in changes
    assert not Tag.objects.filter(code="vip-event-2026").exists() and not Segment.objects.exists()

    run(EXAMPLE)
    assert Tag.objects.get(code="vip-event-2026").api_writable
    assert Segment.objects.get(code="gold-plus").current_version.member_count == 1
    assert not Tag.objects.get(code="new_30d").active

    edited = {**EXAMPLE, "segments": [{**EXAMPLE["segments"][0], "definition": {"tier": "diamond"}}]}
    assert "segment gold-plus: definition changed, version 2 (0 members)" in run(edited)


def test_export_then_import_changes_nothing(program, tiers):
    run(EXAMPLE)
    assert run(export_program()) == []


@pytest.mark.parametrize(
    ("section", "item", "path"),
    [
        ("tags", {"code": "x", "name": "X", "kind": "rule"}, "tags[0].definition"),
        ("tags", {"code": "x", "name": "X", "kind": "rule", "definition": {"sql": "1"}}, "tags[0].definition.sql"),
        ("tags", {"code": "x", "name": "X", "definition": {"tier": "gold"}}, "tags[0].definition"),
        ("tags", {"code": "x", "name": "X", "kind": "sometimes"}, "tags[0].kind"),
        (
            "segments",
            {"code": "s", "name": "S", "definition": {"tier": {"at_least": 3}}},
            "segments[0].definition.tier.at_least",
        ),
        ("segments", {"code": "s", "name": "S", "kind": "static", "definition": {"tier": "gold"}}, "segments[0].kind"),
    ],
)
def test_problems_are_refused_by_path(program, section, item, path):
    with pytest.raises(InvalidInput) as refused:
        parse_program({section: [item]})
    assert path in refused.value.fields


def test_a_segment_naming_an_unknown_tier_writes_nothing(program):
    with pytest.raises(InvalidInput):
        run({"segments": [{"code": "s", "name": "S", "definition": {"tier": "no-such-tier"}}]})
    assert not Segment.objects.exists()
