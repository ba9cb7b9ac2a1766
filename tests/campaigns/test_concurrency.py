"""Real concurrency on PostgreSQL: the nightly refresh and a new version's computation over the same
members at once, in threads with their own connections. Every refresh locks all the members it may
change in one batch, in id order, before it writes (campaigns.services.refresh.refresh_scope), so
none of them deadlocks, and each audience ends equal to its definition with one event per change."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import definitions
from campaigns.models import Segment, SegmentMember
from campaigns.selectors import Scope, evaluation_context, selected
from campaigns.services import save_segment
from campaigns.services.segments import compute_version, refresh_chunks
from members.models import DomainEvent
from tests.factories import MemberFactory
from tests.loyalty.test_concurrency import race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency tests need PostgreSQL (row locks and concurrent writers); set DATABASE_URL",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_the_nightly_refresh_and_a_computation_of_the_same_members_at_once_neither_deadlock_nor_double_count(
    program, tiers
):
    ladder = ["normal", "silver", "gold", "diamond"]
    for number in range(80):
        MemberFactory(tier=tiers[ladder[number % 4]])
    save_segment(code="gold-plus", name="Gold and up", definition={"tier": {"at_least": "gold"}})
    save_segment(code="silver", name="Silver", definition={"tier": "silver"})
    wanted = {"tier": {"at_least": "silver"}}
    segment = save_segment(code="gold-plus", name="Silver and up", definition=wanted, compute=False)
    version = segment.versions.get(number=2)

    def work(i: int):
        if i == 0:
            return compute_version(version_id=version.pk, chunk_size=7)
        return refresh_chunks(as_of=timezone.now(), versions=None, chunk_size=5 + i)

    results = race(4, work)

    assert [kind for kind, _ in results] == ["ok"] * 4, results
    version.refresh_from_db()
    assert not version.computing and Segment.objects.get(code="gold-plus").current_version == version
    context = evaluation_context(timezone.now(), cut=None)
    expected = set(selected(definitions.parse(wanted), context, Scope()).values_list("pk", flat=True))
    held = set(SegmentMember.objects.filter(version=version).values_list("member_id", flat=True))
    assert held == expected and version.member_count == len(expected)
    entered = Counter(
        event.member_id
        for event in DomainEvent.objects.filter(type="segment.entered")
        if event.payload == {"segment": "gold-plus", "version": 2}
    )
    assert set(entered) == {
        pk
        for pk in expected
        if pk
        not in set(
            SegmentMember.objects.filter(version__number=1, version__segment__code="gold-plus").values_list(
                "member_id", flat=True
            )
        )
    } and set(entered.values()) == {1}, "each entrant once"
