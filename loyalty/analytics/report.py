"""The whole set of program design reports, for `manage.py program_report`, the admin pages and the
CSV downloads. Each part is timed (the benchmark reports where the time goes)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from loyalty.calculations import local_day, start_of_day
from loyalty.config import current_config
from loyalty.models.program import DowngradePolicy

from . import calibration, distribution, economics, forecast, rfm, weights
from .distribution import share
from .selectors import distribution as distribution_reads
from .selectors import economics as economics_reads
from .selectors import forecast as forecast_reads
from .selectors import rfm as rfm_reads
from .selectors import summaries as summary_reads
from .selectors import weights as weights_reads
from .selectors.sql import report_transaction

DEFAULT_RFM_WINDOW_DAYS = 365
DEFAULT_WEIGHTS_DAYS = weights.DEFAULT_WEIGHTS_DAYS
ECONOMICS_MONTHS = 12


@dataclass(frozen=True)
class ReportOptions:
    as_of: datetime | None = None  # default: now
    top_share_target: Decimal = distribution.DEFAULT_TOP_SHARE_TARGET
    top_share_tolerance: Decimal = distribution.DEFAULT_TOP_SHARE_TOLERANCE
    target_shares: list[Decimal] | None = None  # per tier, lowest first; default calibration.default_targets
    rfm_window_days: int = DEFAULT_RFM_WINDOW_DAYS
    rfm_cut_frequency: Decimal | None = None  # both set: the operator's cut; otherwise the medians
    rfm_cut_monetary: Decimal | None = None
    weights_days: int = DEFAULT_WEIGHTS_DAYS  # program days up to as_of's day (weights_report: or the stored ones)
    personas: list[forecast.Persona] | None = None  # default: forecast.default_personas


@dataclass(frozen=True)
class CalibrationReport:
    tiers: list[calibration.ProposedTier]
    movements: list[tuple[str, str, int]]  # (from tier, to tier, members), members who would move
    names: dict[str, str]  # tier code -> name
    holding: dict[str, Decimal]  # tier code -> share of the counted members holding it today
    policy: str  # the downgrade policy the movements follow

    @property
    def rows(self) -> list[tuple[calibration.ProposedTier, str, Decimal]]:
        """Per tier: the proposal, the tier's name and the share holding it today."""
        return [(tier, self.names[tier.code], self.holding[tier.code]) for tier in self.tiers]

    @property
    def movement_rows(self) -> list[tuple[str, str, int]]:
        return [(self.names[source], self.names[target], n) for source, target, n in self.movements]

    @property
    def policy_label(self) -> str:
        return str(DowngradePolicy(self.policy).label)


@dataclass(frozen=True)
class RFMReport:
    window_days: int
    as_of: datetime  # the end of the window
    source: str  # "store": the nightly store_member_rfm run of the day; "events": computed now
    cut: rfm.Cut
    quadrants: list[rfm.Quadrant]


@dataclass(frozen=True)
class WeightsReport:
    first_day: date
    last_day: date
    matrix: weights.WeightMatrix
    source: str  # "summaries": the nightly store_report_summaries run of the day; "hits": read now
    as_of: datetime  # when the tiers and hits were read: the run's as_of, or the report's


@dataclass(frozen=True)
class PersonaForecast:
    name: str
    persona: dict
    forecast: dict  # the forecast command's JSON contract


@dataclass(frozen=True)
class ForecastReport:
    start: date
    personas: list[PersonaForecast]
    observed_median_days: dict[str, Decimal | None]  # per tier above the lowest
    observed_members: dict[str, int]
    observed_as_of: datetime  # the nightly summary's as_of, or the report's when read from the history


@dataclass(frozen=True)
class EconomicsReport:
    liability: economics.Liability
    months: list[economics.MonthFlow]
    breakage: Decimal | None
    rewards: list[economics.RewardValue]
    value_per_point: Decimal | None
    target_value_per_point: Decimal
    benefits: list[economics.BenefitCost]
    campaigns: list[economics.CampaignCost] = field(default_factory=list)
    campaign_liability: list[economics.CampaignLiability] = field(default_factory=list)


@dataclass
class ProgramReport:
    as_of: datetime
    distribution: distribution.Distribution
    calibration: CalibrationReport
    rfm: RFMReport
    weights: WeightsReport
    forecast: ForecastReport
    economics: EconomicsReport
    seconds: dict[str, float] = field(default_factory=dict)


def build_report(options: ReportOptions) -> ProgramReport:
    as_of = options.as_of or timezone.now()
    seconds: dict[str, float] = {}

    def timed(name, make):
        started = time.perf_counter()
        result = make()
        seconds[name] = round(time.perf_counter() - started, 3)
        return result

    with report_transaction():
        # The distribution, the calibration, the weight matrix's tier sizes and the liability share
        # one pass over the members.
        counts = timed("members", distribution_reads.member_counts)
        report = ProgramReport(
            as_of=as_of,
            distribution=timed("distribution", lambda: distribution_report(options, counts)),
            calibration=timed("calibration", lambda: calibration_report(options.target_shares, counts)),
            rfm=timed("rfm", lambda: rfm_report(options, as_of)),
            weights=timed("weights", lambda: weights_report(options.weights_days, as_of, counts)),
            forecast=timed("forecast", lambda: forecast_report(options.personas, as_of)),
            economics=timed("economics", lambda: economics_report(as_of, counts)),
        )
    report.seconds = seconds
    return report


def distribution_report(
    options: ReportOptions, counts: distribution_reads.MemberCounts | None = None
) -> distribution.Distribution:
    return distribution.tier_distribution(
        distribution_reads.tier_counts(counts),
        top_share_target=options.top_share_target,
        tolerance=options.top_share_tolerance,
    )


def calibration_report(
    target_shares: list[Decimal] | None, counts: distribution_reads.MemberCounts | None = None
) -> CalibrationReport:
    ladder = [(tier.code, tier.threshold) for tier in current_config().ladder]
    targets = target_shares or calibration.default_targets(len(ladder))
    calibration.check_targets(targets, len(ladder))
    counts = distribution_reads.member_counts() if counts is None else counts
    tiers = calibration.calibrate(distribution_reads.growth_histogram(counts), ladder, targets)
    policy = current_config().settings.downgrade_policy
    moves = distribution_reads.tier_movements([tier.proposed_threshold for tier in tiers], policy, counts)
    order = {code: rank for rank, (code, _threshold) in enumerate(ladder)}
    movements = sorted(
        ((source, target, n) for (source, target), n in moves.items() if source != target),
        key=lambda move: (order[move[0]], order[move[1]]),
    )
    held = distribution_reads.tier_counts(counts)
    counted = sum(count.members for count in held)
    return CalibrationReport(
        tiers,
        movements,
        names={tier.code: tier.name for tier in current_config().ladder},
        holding={count.code: share(count.members, counted) for count in held},
        policy=policy,
    )


def rfm_report(options: ReportOptions, as_of: datetime) -> RFMReport:
    """From the day's nightly store when it is done and kept the window asked for (a million
    members' RFM from the events takes seconds); from the events otherwise."""
    stored_as_of = rfm_reads.stored_rfm_as_of(as_of=as_of, window_days=options.rfm_window_days)
    cut, cells = rfm_reads.quadrant_cells(
        as_of=stored_as_of or as_of,
        window_days=options.rfm_window_days,
        cut_frequency=options.rfm_cut_frequency,
        cut_monetary=options.rfm_cut_monetary,
        stored=stored_as_of is not None,
    )
    codes = [tier.code for tier in current_config().ladder]
    return RFMReport(
        options.rfm_window_days,
        stored_as_of or as_of,
        "store" if stored_as_of else "events",
        cut,
        rfm.quadrants(cells, codes),
    )


def weights_report(days: int, as_of: datetime, counts: distribution_reads.MemberCounts | None = None) -> WeightsReport:
    """The default period from the day's nightly summaries when they are done (the complete days
    before the run, by the tiers at the run); any other period, or before the run, from the rule
    hits of the `days` program days up to as_of's day."""
    config = current_config()
    zone = config.settings.zone
    run = summary_reads.latest_summary_run(as_of) if days == DEFAULT_WEIGHTS_DAYS else None
    stored = run and local_day(run.as_of, zone) == local_day(as_of, zone) and summary_reads.stored_weights(run)
    if run is not None and stored:
        first_day, last_day = summary_reads.stored_weights_period(run.as_of, zone)
        members = stored[0]
        uses = [weights.RuleUse(*use) for use in stored[1]]
        source, read_at = "summaries", run.as_of
    else:
        last_day = local_day(as_of, zone)
        first_day = last_day - timedelta(days=days - 1)
        uses = weights_reads.rule_uses(first_day, last_day)
        members = {count.code: count.members for count in distribution_reads.tier_counts(counts)}
        source, read_at = "hits", as_of
    tiers = [(tier.code, tier.name, members.get(tier.code, 0)) for tier in config.ladder]
    rules = weights_reads.rule_columns({use.rule_code for use in uses})
    return WeightsReport(first_day, last_day, weights.weight_matrix(tiers, rules, uses), source, read_at)


def forecast_report(personas: list[forecast.Persona] | None, as_of: datetime) -> ForecastReport:
    program = forecast_reads.growth_program()
    start = local_day(as_of, program.zone)
    chosen = personas or forecast.default_personas(program.rules_by_event_type)
    observed, observed_as_of = forecast_reads.observed_climb(as_of)
    upper = [code for code, threshold in program.ladder if threshold > 0]
    return ForecastReport(
        start=start,
        personas=[
            PersonaForecast(persona.name, persona.as_json(), forecast.forecast(persona, program, start).as_json())
            for persona in chosen
        ],
        observed_median_days={code: observed[code][0] if code in observed else None for code in upper},
        observed_members={code: observed[code][1] if code in observed else 0 for code in upper},
        observed_as_of=observed_as_of,
    )


def economics_report(as_of: datetime, counts: distribution_reads.MemberCounts | None = None) -> EconomicsReport:
    settings = current_config().settings
    zone = settings.zone
    first_month = local_day(as_of, zone).replace(day=1) - relativedelta(months=ECONOMICS_MONTHS - 1)
    since = start_of_day(first_month, zone)
    available, pending = economics_reads.points_balances(counts)
    run = summary_reads.latest_summary_run(as_of)
    months = economics.every_month(economics_reads.monthly_points(since, zone, run), first_month, ECONOMICS_MONTHS)
    rewards = [
        economics.reward_value(
            code=code, name=name, units=units, points=points, unit_cash=cash, budget=settings.target_value_per_point
        )
        for code, name, units, points, cash in economics_reads.redeemed_rewards(since)
    ]
    spend = economics_reads.spend_by_tier(since, zone, run)
    costs: dict[tuple[date, str], list] = {}
    ladder = {tier.code: tier for tier in current_config().ladder}
    for month, tier, kind, face, grants, coupons, points in economics_reads.benefit_grants(since, zone):
        face_value = face if kind == "amount_off" and face is not None else Decimal(0)
        value = economics.grant_value(
            coupons=coupons, coupon_face_value=face_value, points=points, point_value=settings.point_value
        )
        total = costs.setdefault((month, tier), [0, 0, 0, Decimal(0)])
        for index, amount in enumerate((grants, coupons, points, value)):
            total[index] += amount
    benefits = [
        economics.benefit_cost(
            month=month,
            tier_code=tier,
            grants=grants,
            coupons=coupons,
            points=points,
            value=value,
            spend=spend.get((month, tier), Decimal(0)),
            tier_name=ladder[tier].name if tier in ladder else tier,
        )
        for (month, tier), (grants, coupons, points, value) in sorted(
            costs.items(), key=lambda item: (item[0][0], ladder[item[0][1]].rank if item[0][1] in ladder else 0)
        )
    ]
    return EconomicsReport(
        liability=economics.liability(available=available, pending=pending, point_value=settings.point_value),
        months=months,
        breakage=economics.breakage(months),
        rewards=rewards,
        value_per_point=economics.overall_value_per_point(rewards),
        target_value_per_point=settings.target_value_per_point,
        benefits=benefits,
        campaigns=[
            economics.CampaignCost(
                month=month,
                code=code,
                name=name,
                grants=grants,
                points=points,
                coupons=coupons,
                value=(face + points * settings.point_value).quantize(Decimal("0.01")),
            )
            for month, code, name, grants, points, coupons, face in economics_reads.campaign_costs(since, zone)
        ],
        campaign_liability=[
            economics.CampaignLiability(code, name, points, (points * settings.point_value).quantize(Decimal("0.01")))
            for code, name, points in economics_reads.campaign_liability()
        ],
    )


def as_json(value):
    """The report (or any part of it) as JSON-ready data: decimals as strings, dates in ISO 8601,
    tuple keys joined with '/'."""
    if is_dataclass(value):
        return as_json(asdict(value))
    if isinstance(value, dict):
        return {"/".join(key) if isinstance(key, tuple) else key: as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(item) for item in value]
    if isinstance(value, Decimal):
        return f"{value}"
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value
