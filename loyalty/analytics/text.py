"""The report as plain text, for `manage.py program_report` without --json."""

from __future__ import annotations

from decimal import Decimal

from .distribution import percent
from .report import ProgramReport


def _money(value: Decimal | str | None) -> str:
    return "never" if value is None else f"{Decimal(value):,.2f}"


def _days(days: int | None) -> str:
    return "never" if days is None else f"{days:,} day" + ("" if days == 1 else "s")


def _share(value: Decimal | None) -> str:
    return "—" if value is None else percent(value)


def render(report: ProgramReport) -> list[str]:
    lines = [f"Program design report as of {report.as_of:%Y-%m-%d %H:%M %Z}", ""]
    dist = report.distribution
    lines += ["1. Tier distribution", f"   {dist.total:,} members (closed ones left out)"]
    lines += [f"   {t.name:<16} {t.threshold:>8,}  {t.members:>10,}  {percent(t.share):>6}" for t in dist.tiers]
    lines += [f"   top three tiers: {percent(dist.top_share)}"]
    lines += [f"   ! {finding.message}" for finding in dist.findings] or ["   no findings"]

    cal = report.calibration
    lines += ["", "2. Threshold calibration (target shares -> proposed thresholds)"]
    lines += [
        f"   {t.code:<12} target {percent(t.target_share):>6}"
        f"  now {t.current_threshold:>8,} ({percent(t.current_share):>6})"
        f"  proposed {t.proposed_threshold:>8,} ({percent(t.proposed_share):>6})"
        for t in cal.tiers
    ]
    lines += [f"   {n:,} members would move {source} -> {target}" for source, target, n in cal.movements]

    rfm = report.rfm
    lines += [
        "",
        f"3. RFM quadrants over the {rfm.window_days} days to {rfm.as_of:%Y-%m-%d %H:%M %Z} (from the {rfm.source}; "
        f"cut at {rfm.cut.source}: frequency > {rfm.cut.frequency}, monetary > {rfm.cut.monetary})",
    ]
    lines += [
        f"   {q.label:<28} {q.members:>10,} {percent(q.share):>6}  avg growth {q.average_growth:>9}  "
        f"avg purchases {q.average_frequency:>6}  avg spend {q.average_monetary:>10}"
        for q in rfm.quadrants
    ]

    w = report.weights
    lines += [
        "",
        f"4. Weight completion by tier, {w.first_day} .. {w.last_day} (share of the tier / avg growth; "
        f"tiers as of {w.as_of:%Y-%m-%d %H:%M %Z}, from the {w.source})",
    ]
    lines += ["   " + " " * 12 + "".join(f"{rule.code[:14]:>16}" for rule in w.matrix.rules)]
    for code, _name, _members in w.matrix.tiers:
        cells = [w.matrix.cells[(code, rule.code)] for rule in w.matrix.rules]
        lines.append("   " + f"{code:<12}" + "".join(f"{percent(c.share):>7} /{c.average_growth:>7}" for c in cells))
    lines += [f"   ! nobody used {rule.code}" for rule in w.matrix.rules if rule.unused]
    lines += [f"   ! {rule.code} does not differ between tiers" for rule in w.matrix.rules if rule.flat]

    fc = report.forecast
    lines += ["", f"5. Time to tier, day 1 = {fc.start} (days / money)"]
    for persona in fc.personas:
        result = persona.forecast
        lines.append(f"   {persona.name}: {result['growth_per_day']:,} growth on day 1; {persona.persona}")
        lines += [
            f"      {code:<12} {_days(days):>12}  {_money(result['spend_to_tier'][code]):>14}"
            for code, days in result["days_to_tier"].items()
        ]
    lines += [f"   observed: median days from joining, as of {fc.observed_as_of:%Y-%m-%d %H:%M %Z}"]
    lines += [
        f"      {code:<12} {'—' if days is None else days:>8}  ({fc.observed_members[code]:,} members)"
        for code, days in fc.observed_median_days.items()
    ]

    eco = report.economics
    lines += [
        "",
        "6. Points economics",
        f"   outstanding {eco.liability.outstanding:,} points ({eco.liability.pending:,} pending) = "
        f"{_money(eco.liability.cash)} at {eco.liability.point_value} a point",
        f"   breakage over the last 12 months: {_share(eco.breakage)}",
        f"   value per point redeemed: {eco.value_per_point or '—'} (budget {eco.target_value_per_point})",
    ]
    lines += [
        f"   {m.month:%Y-%m}  earned {m.earned:>12,}  spent {m.spent:>12,}  expired {m.expired:>12,}"
        for m in eco.months
    ]
    lines += [f"   ! {r.code} pays {r.value_per_point} a point, above the budget" for r in eco.rewards if r.over_budget]
    lines += [
        f"   {b.month:%Y-%m} {b.tier_code:<10} {b.grants:,} grants worth {_money(b.value)} on spend {_money(b.spend)}"
        for b in eco.benefits
    ]
    return lines
