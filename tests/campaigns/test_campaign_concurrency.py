"""Campaign budgets under real concurrency on PostgreSQL (issue 19): threads with their own
connections record qualifying events at once, through the single and the batch path; the
conditional UPDATE of the counter in the ledger's transaction grants exactly the budget, never a
point more, and loyalty_audit then finds every counter equal to the grants it counted."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from campaigns import triggers
from campaigns.models import BudgetCounter, CampaignGrant
from loyalty.extensions import OutboxEvent
from loyalty.models import PointsEntry
from loyalty.services import record_event, record_events
from members.models import DomainEvent, Member
from tests.campaigns.test_campaign_earning import running
from tests.factories import MemberFactory
from tests.helpers import DAY
from tests.loyalty.test_concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL (row locks and concurrent writers); set DATABASE_URL",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("audited_afterwards"),
]


def _purchase(member, n: int, amount: str = "100") -> None:
    """Even threads through record_event, odd ones as a batch of one plus a check-in of another."""
    body = {"event_id": f"e{n}", "member": member.external_id, "amount": amount, "order_id": f"o{n}"}
    if n % 2:
        record_events(source="shop", events=[{**body, "type": "purchase"}])
    else:
        record_event(source="shop", event_type="purchase", occurred_at=DAY, **body)


def _campaign_points() -> int:
    return PointsEntry.objects.filter(reason_code="campaign").aggregate(total=Sum("amount"))["total"] or 0


def test_fifty_parallel_events_against_a_budget_of_1000_points_grant_exactly_1000(program):
    running("double", points_multiplier="2", budget={"points": 1000})
    members = [MemberFactory() for _ in range(50)]

    results = race(50, lambda i: _purchase(members[i], i))

    assert [kind for kind, _ in results] == ["ok"] * 50, results
    assert _campaign_points() == 1000
    assert CampaignGrant.objects.aggregate(total=Sum("points"))["total"] == 1000
    assert BudgetCounter.objects.get().used == 1000


def test_a_per_member_cap_holds_under_twenty_parallel_events_of_one_member(program):
    running("double", points_multiplier="2", budget={"per_member_points": 250})
    member = MemberFactory()

    results = race(20, lambda i: _purchase(member, i, amount="30"))

    assert [kind for kind, _ in results] == ["ok"] * 20, results
    assert _campaign_points() == 250
    assert BudgetCounter.objects.get(member_id=member.pk).used == 250


def test_returns_in_parallel_with_purchases_release_exactly_what_they_reverse(program):
    running("double", points_multiplier="2", budget={"points": 2000})
    members = [MemberFactory() for _ in range(10)]
    for i, member in enumerate(members):
        _purchase(member, i)  # 100 each: 1,000 of the budget used

    def work(i: int):
        if i < 10:  # a full return of each purchase
            record_event(
                source="shop",
                event_type="return",
                event_id=f"r{i}",
                member=members[i].external_id,
                amount="100",
                original_order_id=f"o{i}",
                occurred_at=DAY,
            )
        else:
            _purchase(members[i - 10], i + 100)

    results = race(20, work)

    assert [kind for kind, _ in results] == ["ok"] * 20, results
    assert _campaign_points() == 2000  # booked by the twenty purchases; ten of them returned
    grants = CampaignGrant.objects.aggregate(granted=Sum("points"), released=Sum("points_released"))
    assert (grants["granted"], grants["released"]) == (2000, 1000)
    assert BudgetCounter.objects.get().used == 1000


def test_one_trigger_occurrence_delivered_twenty_times_at_once_grants_once(program):
    running("first-buy", kind="triggered", trigger={"type": "first_purchase"}, reward={"points": 200})
    member = MemberFactory()
    _purchase(member, 0, amount="10")
    occurrence = OutboxEvent.of(DomainEvent.objects.get(type="member.first_purchase"), 1)

    def work(i: int):
        with transaction.atomic():  # as the relay hands events over
            triggers.deliver([occurrence])

    results = race(20, work)

    assert [kind for kind, _ in results] == ["ok"] * 20, results
    assert CampaignGrant.objects.get().points == 200
    assert Member.objects.get(pk=member.pk).points_available == 210
