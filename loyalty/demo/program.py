"""The program as the engine sees it when recording an event: settings, ladder and active rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty.calculations import expiry_at, validate_ladder
from loyalty.models import EarningRule, ProgramSettings, Tier
from loyalty.models.program import GrowthMode


class ProgramSnapshot:
    """Read once, before generating: the engine reads the same rows on every event, and nothing here
    changes them while the generator runs."""

    def __init__(self, settings: ProgramSettings, ladder: list[Tier], rules: list[EarningRule]):
        validate_ladder(ladder)
        self.settings = settings
        self.zone: ZoneInfo = settings.zone
        self.ladder = ladder
        self.lowest_tier = ladder[0]
        self.pending_window = timedelta(days=settings.pending_days)
        self.deducts_growth = settings.growth_mode == GrowthMode.TWO_WAY
        self.rules_by_event_type: dict[str, list[EarningRule]] = defaultdict(list)
        for rule in sorted(rules, key=lambda r: r.code):
            self.rules_by_event_type[rule.event_type_id].append(rule)
        # Both expiry policies depend only on the local day something was earned, and computing them
        # (relativedelta, time zones) for every one of millions of lots would dominate the run time.
        self._growth_expiry_by_day: dict[date, datetime | None] = {}
        self._points_expiry_by_day: dict[date, datetime | None] = {}

    @classmethod
    def load(cls) -> ProgramSnapshot:
        return cls(
            ProgramSettings.current(),
            list(Tier.objects.order_by("rank")),
            list(EarningRule.objects.filter(is_active=True)),
        )

    def growth_expiry(self, earned_at: datetime, day: date) -> datetime | None:
        if day not in self._growth_expiry_by_day:
            settings = self.settings
            self._growth_expiry_by_day[day] = expiry_at(
                settings.growth_window_policy, settings.growth_window_months, earned_at, self.zone
            )
        return self._growth_expiry_by_day[day]

    def points_expiry(self, earned_at: datetime, day: date) -> datetime | None:
        if day not in self._points_expiry_by_day:
            settings = self.settings
            self._points_expiry_by_day[day] = expiry_at(
                settings.points_expiry_policy, settings.points_expiry_months, earned_at, self.zone
            )
        return self._points_expiry_by_day[day]
