"""factory-boy factories for the engine's models.

The default program (tiers, built-in event types and rules) comes from migration 0003; the `program`
fixture in conftest makes sure it is there. Factories that need a tier take the lowest one.
"""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from loyalty.models import EarningRule, EventType, Tier
from members.models import Member


def lowest_tier() -> Tier:
    return Tier.objects.order_by("rank").first()


class UserFactory(DjangoModelFactory):
    """A staff user: the actor of manual adjustments and tier changes."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    is_staff = True


class EventTypeFactory(DjangoModelFactory):
    """An operator-defined event type: no default rule matches it, so tests control every rule."""

    class Meta:
        model = EventType
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"test_task_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())


class EarningRuleFactory(DjangoModelFactory):
    class Meta:
        model = EarningRule

    code = factory.Sequence(lambda n: f"test-rule-{n}")
    name = factory.LazyAttribute(lambda o: f"Test rule {o.code}")
    event_type = factory.SubFactory(EventTypeFactory)
    growth = 0
    points = 0


class MemberFactory(DjangoModelFactory):
    """A bare member on the lowest tier with zero balances (balances only ever come from the ledgers)."""

    class Meta:
        model = Member

    external_id = factory.Sequence(lambda n: f"member-{n:05d}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda o: f"{o.external_id}@example.com")
    tier = factory.LazyFunction(lowest_tier)
