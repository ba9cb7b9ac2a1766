"""What changed thresholds would do to the members, before they are saved: one grouped query over
the members (current tier × band of the new ladder), then the pure tier rules per group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, Value, When

from loyalty.calculations import recalculated_tier
from loyalty.models import ProgramSettings, Tier
from loyalty.models.program import DowngradePolicy
from members.models import Member


@dataclass(frozen=True)
class Move:
    source: Tier
    target: Tier
    members: int

    @property
    def up(self) -> bool:
        return self.target.rank > self.source.rank


@dataclass(frozen=True)
class WhatIf:
    policy: str
    moves: list[Move]
    now: list[tuple[Tier, int]]
    after: list[tuple[Tier, int]]

    @property
    def policy_label(self) -> str:
        return str(DowngradePolicy(self.policy).label)

    @property
    def moving_up(self) -> int:
        return sum(m.members for m in self.moves if m.up)

    @property
    def pyramid(self) -> list[tuple[Tier, int, int]]:
        """Per tier: members now and after."""
        return [(tier, now, after) for (tier, now), (_, after) in zip(self.now, self.after, strict=True)]

    @property
    def moving_down(self) -> int:
        return sum(m.members for m in self.moves if not m.up)


def preview_thresholds(*, thresholds: Mapping[str, int]) -> WhatIf:
    """Members' tiers after the next recalculation (downgrades per the program's policy; upgrades
    also happen at once on the member's next event) if the ladder had these thresholds."""
    current = list(Tier.objects.order_by("rank"))
    ladder = [replace_threshold(t, thresholds.get(t.code, t.threshold)) for t in current]
    by_rank = sorted(ladder, key=lambda t: t.rank)
    band = Case(
        *[When(growth_value__gte=t.threshold, then=Value(t.rank)) for t in reversed(by_rank)],
        default=Value(by_rank[0].rank),
        output_field=IntegerField(),
    )
    groups = Member.objects.annotate(band=band).values_list("tier", "band").annotate(n=Count("id")).order_by()
    policy = ProgramSettings.current().downgrade_policy
    by_id = {t.pk: t for t in ladder}
    by_rank_map = {t.rank: t for t in ladder}
    now: dict[int, int] = {}
    after: dict[int, int] = {}
    moves: dict[tuple[int, int], int] = {}
    for tier_id, band_rank, n in groups:
        source = by_id[tier_id]
        target = recalculated_tier(by_rank, source, by_rank_map[band_rank].threshold, policy)
        now[source.pk] = now.get(source.pk, 0) + n
        after[target.pk] = after.get(target.pk, 0) + n
        if target.pk != source.pk:
            moves[(source.pk, target.pk)] = moves.get((source.pk, target.pk), 0) + n
    return WhatIf(
        policy=policy,
        moves=sorted(
            (Move(by_id[s], by_id[t], n) for (s, t), n in moves.items()), key=lambda m: (m.source.rank, m.target.rank)
        ),
        now=[(t, now.get(t.pk, 0)) for t in by_rank],
        after=[(t, after.get(t.pk, 0)) for t in by_rank],
    )


def replace_threshold(tier: Tier, threshold: int) -> Tier:
    """An unsaved copy of the tier with another threshold (the preview never writes)."""
    fields = {f.attname: getattr(tier, f.attname) for f in Tier._meta.concrete_fields}
    return Tier(**{**fields, "threshold": threshold})
