"""A lived-in points mall for the demo: a partner code pool and some redemptions, made through the
services by the demo members who can afford them."""

from __future__ import annotations

import random

from django.db import transaction
from django.utils import timezone

from members.errors import LoyaltyError
from members.models import Member

from .models import CodePool, Reward
from .selectors import on_offer
from .services import import_pool_codes, move_fulfilment, redeem

DEMO_SOURCE = "demo"
DEMO_ADDRESS = "上海市黄浦区南京东路 1 号"


@transaction.atomic
def add_partner_codes(*, codes: int, seed: int) -> Reward:
    """A code pool of made-up video-streaming codes and the reward that hands them out."""
    pool, _ = CodePool.objects.get_or_create(code="video-month", defaults={"name": "Video streaming, 1 month"})
    rng = random.Random(seed)
    text = "code\n" + "\n".join(f"VID-{rng.randrange(16**10):010X}" for _ in range(codes))
    import_pool_codes(pool=pool, text=text)
    reward, _ = Reward.objects.get_or_create(
        code="video-month",
        defaults={
            "name": "1 month of video streaming",
            "kind": Reward.Kind.CODE,
            "points_cost": 1500,
            "cash_value": "15",
            "code_pool": pool,
            "category": "partners",
            "sort_order": 35,
            "per_member_limit": 1,
            "limit_period": "month",
        },
    )
    return reward


def make_redemptions(*, count: int, seed: int) -> int:
    """Up to `count` redemptions by the members with the most points; some goods already shipped."""
    rng = random.Random(seed)
    rewards = list(on_offer(timezone.now()))
    members = list(Member.objects.filter(status=Member.Status.ACTIVE).order_by("-points_available")[: count * 2])
    made = 0
    for index, member in enumerate(members):
        if made == count:
            break
        affordable = [r for r in rewards if r.points_cost <= member.points_available]
        if not affordable:
            continue
        reward = rng.choice(affordable)
        try:
            redemption = redeem(
                source=DEMO_SOURCE,
                member=member.external_id,
                reward=reward.code,
                idempotency_key=f"demo-{index}",
                shipping_address=DEMO_ADDRESS if reward.kind == Reward.Kind.GOODS else "",
            ).redemption
        except LoyaltyError:  # a limit or the stock ran out: the next member tries
            continue
        if reward.kind == Reward.Kind.GOODS and rng.random() < 0.5:
            move_fulfilment(redemption_id=redemption.pk, status="shipped")
        made += 1
    return made


def populate_the_mall(stdout, seed: int) -> None:
    """The demo step (loyalty.extensions.demo_steps): partner codes, then redemptions."""
    add_partner_codes(codes=200, seed=seed)
    stdout.write(f"Points mall: {make_redemptions(count=40, seed=seed)} demo redemptions.")
