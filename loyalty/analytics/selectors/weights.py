from __future__ import annotations

from datetime import date

from django.db.models import Count, Q, Sum

from loyalty.analytics.weights import RuleUse
from loyalty.models import EarningRule, RuleHit
from members.models import Member


def rule_uses(first_day: date, last_day: date) -> list[RuleUse]:
    """Per (member's current tier, rule): distinct members with a hit on a program day in the period,
    and the growth the hits gave."""
    rows = (
        RuleHit.objects.filter(local_day__range=(first_day, last_day))
        .exclude(member__status=Member.Status.CLOSED)
        .values_list("member__tier__code", "rule__code")
        .annotate(members=Count("member_id", distinct=True), growth=Sum("growth"))
    )
    return [RuleUse(tier, rule, members, growth or 0) for tier, rule, members, growth in rows]


def rule_columns(used_codes: set[str]) -> list[tuple[str, str]]:
    """The active rules, and the inactive ones among `used_codes`: (code, name) by code."""
    rules = EarningRule.objects.filter(Q(is_active=True) | Q(code__in=used_codes)).order_by("code")
    return [(rule.code, rule.name or rule.code) for rule in rules]
