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
DEMO_CARRIERS = ("SF Express", "JD Logistics", "ZTO Express")


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
    """Up to `count` redemptions by members drawn from those who can afford something on offer,
    through the redemption service; of the goods, a third still to ship, a third shipped (carrier
    and tracking number), a third delivered."""
    rng = random.Random(seed)
    rewards = list(on_offer(timezone.now()))
    if not rewards:
        return 0
    cheapest = min(reward.points_cost for reward in rewards)
    able = list(
        Member.objects.filter(status=Member.Status.ACTIVE, points_available__gte=cheapest)
        .order_by("pk")
        .values_list("external_id", "points_available")
    )
    made = 0
    for index, (external_id, points) in enumerate(rng.sample(able, min(len(able), count * 2))):
        if made == count:
            break
        reward = rng.choice([r for r in rewards if r.points_cost <= points])
        try:
            redemption = redeem(
                source=DEMO_SOURCE,
                member=external_id,
                reward=reward.code,
                idempotency_key=f"demo-{index}",
                shipping_address=DEMO_ADDRESS if reward.kind == Reward.Kind.GOODS else "",
            ).redemption
        except LoyaltyError:  # a limit or the stock ran out: the next member tries
            continue
        if reward.kind == Reward.Kind.GOODS:
            _fulfil(redemption.pk, rng)
        made += 1
    return made


def _fulfil(redemption_id: int, rng: random.Random) -> None:
    step = rng.randrange(3)
    if step >= 1:
        move_fulfilment(
            redemption_id=redemption_id,
            status="shipped",
            carrier=rng.choice(DEMO_CARRIERS),
            tracking_number=f"SF{rng.randrange(10**12):012d}",
        )
    if step == 2:
        move_fulfilment(redemption_id=redemption_id, status="delivered")


def populate_the_mall(stdout, seed: int) -> None:
    """The demo step (loyalty.extensions.demo_steps): partner codes, then redemptions."""
    add_partner_codes(codes=200, seed=seed)
    count = max(40, Member.objects.count() // 10)
    stdout.write(f"Points mall: {make_redemptions(count=count, seed=seed)} demo redemptions.")
