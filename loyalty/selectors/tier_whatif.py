"""What changed thresholds would do to the members, before they are saved: one grouped query over
the members (current tier × band of the new ladder), then the pure tier rules per group."""

from __future__ import annotations

from collections import Counter
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
    """Two things, kept apart: what the edit itself changes (each member's tier after the next
    recalculation with the edited ladder against the same with the current one, same growth values),
    and what the next recalculation does anyway with the current ladder (pending moves)."""

    policy: str
    caused: list[Move]  # from the tier the current ladder would give to the one the edited ladder gives
    pending: list[Move]  # from today's tier to the one the current ladder gives at the next recalculation
    now: list[tuple[Tier, int]]  # members per tier today
    as_configured: list[tuple[Tier, int]]  # after the next recalculation, current ladder
    edited: list[tuple[Tier, int]]  # after the next recalculation, edited ladder

    @property
    def policy_label(self) -> str:
        return str(DowngradePolicy(self.policy).label)

    @property
    def caused_up(self) -> int:
        return sum(m.members for m in self.caused if m.up)

    @property
    def caused_down(self) -> int:
        return sum(m.members for m in self.caused if not m.up)

    @property
    def pending_up(self) -> int:
        return sum(m.members for m in self.pending if m.up)

    @property
    def pending_down(self) -> int:
        return sum(m.members for m in self.pending if not m.up)

    @property
    def pyramid(self) -> list[tuple[Tier, int, int, int]]:
        """Per tier: members today, after the next recalculation as configured, and with the edit."""
        return [
            (tier, now, configured, edited)
            for (tier, now), (_, configured), (_, edited) in zip(self.now, self.as_configured, self.edited, strict=True)
        ]


def preview_thresholds(*, thresholds: Mapping[str, int]) -> WhatIf:
    """Members' tiers after the next recalculation (downgrades per the program's downgrade policy;
    upgrades also happen at once on the member's next event), with the ladder as configured and with
    these thresholds. One grouped query: members by (tier, band of the current ladder, band of the
    edited ladder). The ladder must be valid (loyalty.program_file checks it first)."""
    current = list(Tier.objects.order_by("rank"))
    edited = [replace_threshold(t, thresholds.get(t.code, t.threshold)) for t in current]
    groups = (
        Member.objects.annotate(band_now=_band(current), band_edited=_band(edited))
        .values_list("tier", "band_now", "band_edited")
        .annotate(n=Count("id"))
        .order_by()
    )
    policy = ProgramSettings.current().downgrade_policy
    by_id = {t.pk: t for t in current}
    threshold_now = {t.rank: t.threshold for t in current}
    threshold_edited = {t.rank: t.threshold for t in edited}
    now: Counter[int] = Counter()
    configured: Counter[int] = Counter()
    with_edit: Counter[int] = Counter()
    caused: Counter[tuple[int, int]] = Counter()
    pending: Counter[tuple[int, int]] = Counter()
    for tier_id, band_now, band_edited, n in groups:
        source = by_id[tier_id]
        # A growth value in both bands: the group's members all get what it gets.
        growth = max(threshold_now[band_now], threshold_edited[band_edited])
        as_configured = recalculated_tier(current, source, growth, policy)
        after_edit = recalculated_tier(edited, source, growth, policy)
        now[source.pk] += n
        configured[as_configured.pk] += n
        with_edit[after_edit.pk] += n
        if as_configured.pk != source.pk:
            pending[(source.pk, as_configured.pk)] += n
        if after_edit.pk != as_configured.pk:
            caused[(as_configured.pk, after_edit.pk)] += n
    return WhatIf(
        policy=policy,
        caused=_moves(caused, by_id),
        pending=_moves(pending, by_id),
        now=[(t, now[t.pk]) for t in current],
        as_configured=[(t, configured[t.pk]) for t in current],
        edited=[(t, with_edit[t.pk]) for t in current],
    )


def _band(ladder: list[Tier]) -> Case:
    """The rank of the highest tier of `ladder` (by rank) whose threshold the growth value reaches."""
    return Case(
        *[When(growth_value__gte=t.threshold, then=Value(t.rank)) for t in reversed(ladder)],
        default=Value(ladder[0].rank),
        output_field=IntegerField(),
    )


def _moves(counts: Counter[tuple[int, int]], by_id: dict[int, Tier]) -> list[Move]:
    moves = (Move(by_id[source], by_id[target], n) for (source, target), n in counts.items())
    return sorted(moves, key=lambda m: (m.source.rank, m.target.rank))


def replace_threshold(tier: Tier, threshold: int) -> Tier:
    """An unsaved copy of the tier with another threshold (the preview never writes)."""
    fields = {f.attname: getattr(tier, f.attname) for f in Tier._meta.concrete_fields}
    return Tier(**{**fields, "threshold": threshold})
