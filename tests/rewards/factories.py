"""Factories for the rewards catalog. Tests build their own catalog rather than rely on migration 0002's."""

from __future__ import annotations

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from rewards.models import Benefit, CodePool, CouponTemplate, PoolCode, Reward


class CouponTemplateFactory(DjangoModelFactory):
    class Meta:
        model = CouponTemplate

    code = factory.Sequence(lambda n: f"test-template-{n}")
    name = factory.LazyAttribute(lambda o: f"Template {o.code}")
    kind = CouponTemplate.Kind.AMOUNT_OFF
    value = Decimal("10")
    min_spend = Decimal("99")
    valid_days = 30


class CodePoolFactory(DjangoModelFactory):
    class Meta:
        model = CodePool

    code = factory.Sequence(lambda n: f"test-pool-{n}")
    name = factory.LazyAttribute(lambda o: f"Pool {o.code}")


def fill_pool(pool: CodePool, count: int, prefix: str = "P") -> list[PoolCode]:
    return PoolCode.objects.bulk_create(PoolCode(pool=pool, code=f"{prefix}{pool.pk}-{i:04d}") for i in range(count))


class RewardFactory(DjangoModelFactory):
    """A coupon reward (unlimited, no limits) unless told otherwise."""

    class Meta:
        model = Reward

    code = factory.Sequence(lambda n: f"test-reward-{n}")
    name = factory.LazyAttribute(lambda o: f"Reward {o.code}")
    kind = Reward.Kind.COUPON
    points_cost = 100
    cash_value = Decimal("1")
    coupon_template = factory.SubFactory(CouponTemplateFactory)


class BenefitFactory(DjangoModelFactory):
    class Meta:
        model = Benefit
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"test-benefit-{n}")
    name = factory.LazyAttribute(lambda o: f"Benefit {o.code}")

    @factory.post_generation
    def tiers(self, create, extracted, **kwargs):
        if create and extracted:
            self.tiers.set(extracted)
