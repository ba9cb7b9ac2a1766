"""The rewards' configuration writers (loyalty.services.configuration): coupon templates, code pools,
rewards and benefits are saved through these by the admin, the spreadsheet imports and the program
file alike."""

from __future__ import annotations

from django.utils.translation import gettext

from loyalty import extensions
from loyalty.models import ProgramSettings
from loyalty.services.configuration import ConfigWriter
from rewards import calculations
from rewards.models import Benefit, CodePool, CouponTemplate, Reward


def cost_guard(reward: Reward) -> list[str]:
    """The cost guard: a reward that pays out more per point than the program budgets for is saved,
    with a warning (what the admin, an import and the program file show)."""
    target = ProgramSettings.current().target_value_per_point
    if not calculations.exceeds_budget(reward.cash_value, reward.points_cost, target):
        return []
    return [
        gettext(
            "%(reward)s gives %(value)s per point, more than the target of %(target)s per point "
            "(Program settings): every redemption costs more than the points are budgeted for."
        )
        % {"reward": reward.code, "value": reward.value_per_point, "target": target}
    ]


def register() -> None:
    writers = [
        ConfigWriter(CodePool, "code pool"),
        ConfigWriter(CouponTemplate, "coupon template"),
        ConfigWriter(Reward, "reward", warnings=cost_guard),
        ConfigWriter(Benefit, "benefit"),
    ]
    for writer in writers:
        extensions.config_writers.register(writer.model._meta.label, writer)
