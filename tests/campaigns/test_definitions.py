"""Segment definitions (campaigns.definitions, campaigns.predicates): what is refused, what each
predicate means on hand-built members (day boundaries in the program's time zone), and the
set-based condition equal to the per-member check on a seeded random population."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from campaigns import definitions
from campaigns.definitions import Cut
from campaigns.models import MemberTag, Tag
from campaigns.selectors import Scope, evaluation_context, member_facts, selected
from loyalty.models import Event, MemberRFM
from members.models import Member
from tests.campaigns.population import AS_OF, DEFINITIONS
from tests.factories import MemberFactory
from tests.helpers import local

pytestmark = pytest.mark.django_db


def problems_of(raw) -> dict[str, list[str]]:
    with pytest.raises(definitions.InvalidDefinition) as refused:
        definitions.parse(raw)
    return refused.value.problems


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({}, "definition"),
        ({"all": []}, "all"),
        ({"all": [{"tier": "gold"}], "any": []}, "definition"),
        ({"sql": "1=1"}, "sql"),
        ({"tier": {"above": "gold"}}, "tier"),
        ({"points_available": {"gte": "many"}}, "points_available.gte"),
        ({"points_available": {"gte": 1.5}}, "points_available.gte"),
        ({"growth_value": {"gte": 2**70}}, "growth_value.gte"),
        ({"growth_value": {"between": [1, 2]}}, "growth_value"),
        ({"purchases_in_days": {"days": 0, "count": {"gte": 1}}}, "purchases_in_days.days"),
        ({"purchases_in_days": {"days": 30}}, "purchases_in_days"),
        ({"birthday_month": 13}, "birthday_month"),
        ({"status": "sleeping"}, "status"),
        ({"has_referrer": "yes"}, "has_referrer"),
        ({"rfm_quadrant": "best"}, "rfm_quadrant"),
        ({"not": {"all": [{"tier": "gold"}, {"nonsense": 1}]}}, "not.all.1.nonsense"),
        ({"tag": "\ud800"}, "definition"),
    ],
)
def test_definitions_that_are_refused_say_where(raw, path):
    assert path in problems_of(raw)


def test_nesting_and_size_are_bounded():
    deep: dict = {"tier": "gold"}
    for _ in range(definitions.MAX_DEPTH + 2):
        deep = {"not": deep}
    assert problems_of(deep)
    wide = {"any": [{"tier": "gold"}] * (definitions.MAX_NODES + 1)}
    assert problems_of(wide)


def ids(definition, context, members=None) -> set[str]:
    found = selected(definitions.parse(definition), context, Scope(first_id=0, last_id=2**62))
    return set(found.values_list("external_id", flat=True))


def test_days_since_last_purchase_counts_program_days(program):
    """Shanghai days: a purchase at 23:59 on 4 December is 3 days before 7 December, one at 00:00
    on 5 December is 2 days, whatever the UTC date."""
    MemberFactory(external_id="late", last_purchase_at=local(2026, 12, 4, 23, 59))
    MemberFactory(external_id="early", last_purchase_at=local(2026, 12, 5, 0, 0))
    MemberFactory(external_id="never")
    context = evaluation_context(AS_OF, cut=None)
    assert ids({"days_since_last_purchase": {"gte": 3}}, context) == {"late"}
    assert ids({"days_since_last_purchase": {"lte": 2}}, context) == {"early"}
    assert ids({"days_since_last_purchase": {"gt": 2, "lt": 4}}, context) == {"late"}
    assert ids({"not": {"days_since_last_purchase": {"gte": 3}}}, context) == {"early", "never"}


def test_joined_within_and_birthdays_across_the_year_end(program):
    MemberFactory(external_id="today", joined_at=local(2026, 12, 7, 0, 0), birthday=date(1990, 12, 7))
    MemberFactory(external_id="thirty-days", joined_at=local(2026, 11, 8, 0, 0), birthday=date(1985, 1, 2))
    MemberFactory(external_id="older", joined_at=local(2026, 11, 7, 23, 59), birthday=date(2000, 2, 29))
    context = evaluation_context(AS_OF, cut=None)
    assert ids({"joined_within_days": 30}, context) == {"today", "thirty-days"}
    assert ids({"birthday_within_days": 0}, context) == {"today"}
    assert ids({"birthday_within_days": 26}, context) == {"today", "thirty-days"}
    assert ids({"birthday_month": "current"}, context) == {"today"}
    feb_28 = evaluation_context(local(2027, 2, 28, 12, 0), cut=None)  # 2027 is not a leap year
    assert ids({"birthday_within_days": 0}, feb_28) == {"older"}


def test_tier_tag_and_combinations(program, tiers):
    gold = MemberFactory(external_id="gold", tier=tiers["gold"])
    MemberFactory(external_id="silver", tier=tiers["silver"])
    MemberFactory(external_id="diamond", tier=tiers["diamond"])
    dnc = Tag.objects.create(code="do-not-contact", name="Do not contact")
    MemberTag.objects.create(member=gold, tag=dnc, source="manual")
    context = evaluation_context(AS_OF, cut=None)
    assert ids({"tier": {"at_least": "gold"}}, context) == {"gold", "diamond"}
    assert ids({"tier": {"at_most": "silver"}}, context) == {"silver"}
    assert ids({"tier": {"in": ["silver", "diamond"]}}, context) == {"silver", "diamond"}
    example = {"all": [{"tier": {"at_least": "gold"}}, {"not": {"tag": "do-not-contact"}}]}
    assert ids(example, context) == {"diamond"}
    assert ids({"any": [{"tag": "do-not-contact"}, {"tier": "silver"}]}, context) == {"gold", "silver"}
    MemberTag.objects.filter(member=gold).update(expires_at=AS_OF)
    assert ids({"tag": "do-not-contact"}, context) == set(), "a tag that expired by then is not carried"


def test_closed_members_are_in_no_segment(program):
    MemberFactory(external_id="open")
    MemberFactory(external_id="closed", status=Member.Status.CLOSED)
    context = evaluation_context(AS_OF, cut=None)
    assert ids({"points_available": {"gte": 0}}, context) == {"open"}


# --- the set-based condition equals the per-member check -------------------------------------------------


@pytest.mark.parametrize("definition", DEFINITIONS, ids=[str(d)[:60] for d in DEFINITIONS])
def test_the_set_based_condition_equals_the_per_member_check(population, definition):
    context = evaluation_context(AS_OF, cut=Cut(frequency=Decimal(4), monetary=Decimal("700.00")))
    node = definitions.parse(definition)
    by_sql = set(selected(node, context, Scope(first_id=0, last_id=2**62)).values_list("pk", flat=True))
    by_member = {
        facts.id
        for facts in member_facts(population, context)
        if facts.status != Member.Status.CLOSED and definitions.holds(node, facts, context)
    }
    assert by_sql == by_member
    assert 0 < len(by_sql) < len(population) - 1, "the population has members on both sides"


def test_the_other_predicates_on_hand_built_members(program, tiers):
    """Each remaining predicate on members built to sit on either side of it."""

    def event(member, kind, days_ago, amount):
        Event.objects.create(
            source="shop",
            event_id=f"{member.external_id}-{kind}-{days_ago}-{amount}",
            member=member,
            event_type_id=kind,
            occurred_at=AS_OF - timedelta(days=days_ago),
            amount=Decimal(amount),
            order_id=f"{member.external_id}-{days_ago}-{amount}" if kind == "purchase" else "",
            fingerprint="x",
            tier_after=member.tier,
        )

    referrer = MemberFactory(external_id="referrer")
    buyer = MemberFactory(
        external_id="buyer", points_available=1500, growth_value=7000, last_activity_at=AS_OF - timedelta(days=2)
    )
    returner = MemberFactory(external_id="returner", referrer=referrer, status=Member.Status.FROZEN)
    for days in (5, 20, 40):
        event(buyer, "purchase", days, "200")
    for days in (10, 30, 50):
        event(returner, "purchase", days, "50")
    for days in (11, 31):
        event(returner, "return", days, "50")
    MemberRFM.objects.create(
        member=buyer,
        window_days=365,
        frequency=3,
        monetary=Decimal("600"),
        recency_days=5,
        period="p",
        computed_at=AS_OF,
    )
    MemberRFM.objects.create(
        member=returner,
        window_days=365,
        frequency=3,
        monetary=Decimal("50"),
        recency_days=10,
        period="p",
        computed_at=AS_OF,
    )
    context = evaluation_context(AS_OF, cut=Cut(frequency=Decimal(2), monetary=Decimal(100)))
    expected = {
        '{"purchases_in_days": {"days": 30, "count": {"gte": 2}}}': {"buyer"},
        '{"purchases_in_days": {"days": 45, "amount": {"gt": "500"}}}': {"buyer"},
        '{"returns_in_days": {"days": 60, "count": {"gte": 2}, "share_of_purchases": {"gte": "0.5"}}}': {"returner"},
        '{"rfm_quadrant": "high_spend_high_frequency"}': {"buyer"},
        '{"rfm_quadrant": "low_spend_high_frequency"}': {"returner"},
        '{"recency_days": {"lte": 5}}': {"buyer"},
        '{"frequency": {"gte": 3}}': {"buyer", "returner"},
        '{"monetary": {"lt": "100"}}': {"returner"},
        '{"days_since_last_activity": {"lte": 2}}': {"buyer"},
        '{"status": "frozen"}': {"returner"},
        '{"points_available": {"gte": 1500}}': {"buyer"},
        '{"growth_value": {"gt": 6999, "lt": 7001}}': {"buyer"},
        '{"has_referrer": true}': {"returner"},
        '{"has_referrer": false}': {"buyer", "referrer"},
    }
    for definition, members in expected.items():
        assert ids(json.loads(definition), context) == members, definition
