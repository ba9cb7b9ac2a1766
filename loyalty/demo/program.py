"""The program as the engine sees it when recording an event: settings, ladder and active rules."""

from __future__ import annotations

from collections import defaultdict
from datetime import time
from zoneinfo import ZoneInfo

from loyalty import extensions, planner
from loyalty.calculations import validate_ladder
from loyalty.models import EarningRule, ProgramSettings, Tier
from loyalty.models.program import GrowthMode
from loyalty.services.tiers import RECALCULATION_JOB


class ProgramSnapshot:
    """Read once, before generating: the engine reads the same rows on every event, and nothing here
    changes them while the generator runs."""

    def __init__(self, settings: ProgramSettings, ladder: list[Tier], rules: list[EarningRule]):
        validate_ladder(ladder)
        self.settings = settings
        self.zone: ZoneInfo = settings.zone
        self.ladder = ladder
        self.lowest_tier = ladder[0]
        self.deducts_growth = settings.growth_mode == GrowthMode.TWO_WAY
        self.rules_by_event_type: dict[str, list[EarningRule]] = defaultdict(list)
        for rule in sorted(rules, key=lambda r: r.code):
            self.rules_by_event_type[rule.event_type_id].append(rule)
        # When the nightly and monthly jobs run (their beat schedules, in the program's zone).
        self.expire_points_at = _scheduled_time("expire_points")
        self.expire_growth_at = _scheduled_time("expire_growth")
        self.recalculate_at = _scheduled_time(RECALCULATION_JOB)
        self.recalculation_period_format = extensions.jobs[RECALCULATION_JOB].period_format
        self.planner_program = planner.Program(
            zone=self.zone,
            pending_days=settings.pending_days,
            deducts_growth=self.deducts_growth,
            growth_window=(settings.growth_window_policy, settings.growth_window_months),
            points_expiry=(settings.points_expiry_policy, settings.points_expiry_months),
            ladder=ladder,
        )

    @classmethod
    def load(cls) -> ProgramSnapshot:
        return cls(
            ProgramSettings.current(),
            list(Tier.objects.order_by("rank")),
            list(EarningRule.objects.filter(is_active=True)),
        )


def _scheduled_time(job: str) -> time:
    schedule = extensions.jobs[job].schedule
    if schedule is None:
        raise ValueError(f"The job {job} has no schedule for the demo history to follow.")
    return time(int(schedule.hour), int(schedule.minute))
