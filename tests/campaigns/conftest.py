from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns.models import MemberTag, Tag
from loyalty.models import Event, MemberRFM, Tier
from members.models import Member
from tests.factories import MemberFactory

from .population import AS_OF


@pytest.fixture
def population(program, tiers):
    """200 members with random tiers, balances, dates, tags, stored RFM, purchases and returns."""
    chance = random.Random(20261207)
    vip = Tag.objects.create(code="vip", name="VIP")
    ladder = list(Tier.objects.order_by("rank"))
    referrer = MemberFactory(external_id="referrer")
    for number in range(200):

        def days_ago(most: int) -> timedelta:
            """Any day up to `most` days back, often one next to a boundary the definitions use."""
            near = [n + step for n in (7, 14, 30, 45, 60, 90) for step in (-1, 0, 1)]
            days = chance.choice(near) if chance.random() < 0.5 else chance.randint(0, most)
            return timedelta(days=days, minutes=chance.randint(-720, 720))

        birthday = (AS_OF + timedelta(days=chance.randint(-20, 60))).date()
        member = MemberFactory(
            external_id=f"p-{number:03d}",
            tier=chance.choice(ladder),
            status=chance.choice(["active"] * 8 + ["frozen", "closed"]),
            joined_at=AS_OF - days_ago(400),
            birthday=chance.choice([None, birthday.replace(year=chance.randint(1960, 2008))]),
            last_purchase_at=chance.choice([None, AS_OF - days_ago(200)]),
            last_activity_at=chance.choice([None, AS_OF - days_ago(20)]),
            points_available=chance.randint(0, 5000),
            growth_value=chance.randint(0, 20000),
            referrer=referrer if chance.random() < 0.3 else None,
        )
        if chance.random() < 0.3:
            expires = chance.choice([None, AS_OF - timedelta(days=1), AS_OF + timedelta(days=3)])
            MemberTag.objects.create(member=member, tag=vip, source="manual", expires_at=expires)
        if chance.random() < 0.8:
            frequency = chance.randint(0, 10)
            MemberRFM.objects.create(
                member=member,
                window_days=365,
                frequency=frequency,
                monetary=Decimal(chance.randint(0, 200000)) / 100,
                recency_days=chance.randint(0, 364) if frequency else None,
                period="2026-12-07",
                computed_at=AS_OF,
            )
        for index in range(chance.randint(0, 6)):
            kind = "return" if chance.random() < 0.25 else "purchase"
            Event.objects.create(
                source="shop",
                event_id=f"{member.external_id}-{index}",
                member=member,
                event_type_id=kind,
                occurred_at=AS_OF - days_ago(200),
                amount=Decimal(chance.randint(100, 90000)) / 100,
                order_id=f"{member.external_id}-{index}" if kind == "purchase" else "",
                fingerprint="x",
                tier_after=member.tier,
            )
    return list(Member.objects.values_list("pk", flat=True))
