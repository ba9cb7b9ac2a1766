"""RFM quadrants (seed article 000): recency, frequency and monetary value per member over a
window, and the four M x F quadrants (high/low spend x high/low frequency) cut at the medians or at
values the operator sets. "High" is strictly above the cut, so with a median of 0 the members who
bought at all are the high ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from .distribution import share

HIGH_SPEND_HIGH_FREQUENCY = "high_spend_high_frequency"
HIGH_SPEND_LOW_FREQUENCY = "high_spend_low_frequency"
LOW_SPEND_HIGH_FREQUENCY = "low_spend_high_frequency"
LOW_SPEND_LOW_FREQUENCY = "low_spend_low_frequency"
QUADRANTS = (HIGH_SPEND_HIGH_FREQUENCY, HIGH_SPEND_LOW_FREQUENCY, LOW_SPEND_HIGH_FREQUENCY, LOW_SPEND_LOW_FREQUENCY)


def quadrant_label(key: str) -> str:
    return {
        HIGH_SPEND_HIGH_FREQUENCY: _("High spend, high frequency"),
        HIGH_SPEND_LOW_FREQUENCY: _("High spend, low frequency"),
        LOW_SPEND_HIGH_FREQUENCY: _("Low spend, high frequency"),
        LOW_SPEND_LOW_FREQUENCY: _("Low spend, low frequency"),
    }[key]


def quadrant_of(*, high_spend: bool, high_frequency: bool) -> str:
    if high_spend:
        return HIGH_SPEND_HIGH_FREQUENCY if high_frequency else HIGH_SPEND_LOW_FREQUENCY
    return LOW_SPEND_HIGH_FREQUENCY if high_frequency else LOW_SPEND_LOW_FREQUENCY


@dataclass(frozen=True)
class Cut:
    frequency: Decimal
    monetary: Decimal
    source: str  # "median" or "operator"


@dataclass(frozen=True)
class QuadrantCell:
    """What the selector reads per (quadrant, tier): sums, so averages are exact."""

    quadrant: str
    tier_code: str
    members: int
    growth: int
    frequency: int
    monetary: Decimal
    recency_days: int  # summed over the members who bought in the window
    buyers: int


@dataclass(frozen=True)
class Quadrant:
    key: str
    label: str
    members: int
    share: Decimal
    average_growth: Decimal
    average_frequency: Decimal
    average_monetary: Decimal
    average_recency_days: Decimal | None  # over members who bought in the window
    tier_mix: dict[str, Decimal]  # share of the quadrant's members per tier code


def _average(total, count: int) -> Decimal:
    return (Decimal(total) / count).quantize(Decimal("0.01")) if count else Decimal("0")


def quadrants(cells: Iterable[QuadrantCell], tier_codes: list[str]) -> list[Quadrant]:
    by_quadrant: dict[str, list[QuadrantCell]] = {key: [] for key in QUADRANTS}
    for cell in cells:
        by_quadrant[cell.quadrant].append(cell)
    total = sum(cell.members for group in by_quadrant.values() for cell in group)
    result = []
    for key, group in by_quadrant.items():
        members = sum(c.members for c in group)
        buyers = sum(c.buyers for c in group)
        per_tier = {code: sum(c.members for c in group if c.tier_code == code) for code in tier_codes}
        result.append(
            Quadrant(
                key=key,
                label=quadrant_label(key),
                members=members,
                share=share(members, total),
                average_growth=_average(sum(c.growth for c in group), members),
                average_frequency=_average(sum(c.frequency for c in group), members),
                average_monetary=_average(sum((c.monetary for c in group), Decimal(0)), members),
                average_recency_days=_average(sum(c.recency_days for c in group), buyers) if buyers else None,
                tier_mix={code: share(count, members) for code, count in per_tier.items()},
            )
        )
    return result
