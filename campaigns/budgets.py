"""Campaign budget counters (BudgetCounter): claimed by a conditional UPDATE in the transaction that
books the grants, never read and then checked; given back by the returns that reverse a campaign's
points.

A claim adds what the planned events want to each counter, clipped to its limit, and returns what
each counter held before: the caller sees whether everything it wanted was granted. Claims and
give-backs lock the counters in one statement each, in key order (campaign, budget, member,
period: KEY_ORDER), after the members' locks, and jobs claim campaign after campaign in id order,
so concurrent claims cannot deadlock each other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least

from loyalty.config import last_config
from members.db import fetch_all
from members.outbox import Occurrence, publish_many

from .earning import CAMPAIGN_WIDE, CounterKey, RunningCampaign
from .models import BudgetCounter

# Counters found used up, with the configuration version and when: events skip them for a while
# rather than each claim, clip and plan again. A release by a return forgets them in this process;
# other processes see it once the memory lapses.
KEY_ORDER = 'k.campaign_id, k.budget COLLATE "C", k.member_id, k.period_start'
EXHAUSTED_FOR_SECONDS = 30
_exhausted: dict[CounterKey, tuple[int | None, float]] = {}


def still_exhausted(version: int | None) -> frozenset[CounterKey]:
    now = time.monotonic()
    for key in [key for key, (seen, at) in _exhausted.items() if seen != version or now - at > EXHAUSTED_FOR_SECONDS]:
        del _exhausted[key]
    return frozenset(_exhausted)


@dataclass(frozen=True)
class Claimed:
    before: int
    after: int
    limit: int
    wanted: int

    @property
    def clipped(self) -> bool:
        return self.after - self.before < self.wanted


def claim(wants: Mapping[CounterKey, tuple[int, int]]) -> dict[CounterKey, Claimed]:
    """Add each counter's wanted amount (key -> (wanted, limit)), clipped to the limit (a counter
    already over a lowered limit stays where it is). The counters are created as needed."""
    keys = sorted(key for key, (wanted, _) in wants.items() if wanted > 0)
    if not keys:
        return {}
    table = BudgetCounter._meta.db_table
    columns = [[key[i] for key in keys] for i in range(4)]
    limits = [wants[key][1] for key in keys]
    amounts = [wants[key][0] for key in keys]
    if connection.vendor != "postgresql":
        return _claim_portable(keys, wants)
    fetch_all(
        f"""INSERT INTO {table} (campaign_id, budget, member_id, period_start, used, cap)
            SELECT c, b, m, p, 0, l FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::date[], %s::bigint[])
                AS w(c, b, m, p, l)
            ON CONFLICT (campaign_id, budget, member_id, period_start) DO NOTHING
            RETURNING id""",
        [*columns, limits],
    )
    rows = fetch_all(
        f"""WITH w AS (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::date[], %s::bigint[],
                                        %s::bigint[]) AS w(c, b, m, p, l, amount)),
            locked AS (SELECT k.id, k.used AS before, w.l, w.amount
                       FROM {table} k JOIN w ON k.campaign_id = w.c AND k.budget = w.b
                                             AND k.member_id = w.m AND k.period_start = w.p
                       ORDER BY {KEY_ORDER} FOR UPDATE OF k)
            UPDATE {table} k SET used = GREATEST(locked.before, LEAST(locked.l, locked.before + locked.amount)),
                                 cap = locked.l
            FROM locked WHERE k.id = locked.id
            RETURNING k.campaign_id, k.budget, k.member_id, k.period_start, locked.before, k.used, k.cap""",
        [*columns, limits, amounts],
    )
    return {
        (campaign, budget, member, period): Claimed(before, after, limit, wants[(campaign, budget, member, period)][0])
        for campaign, budget, member, period, before, after, limit in rows
    }


def _claim_portable(keys: list[CounterKey], wants: Mapping[CounterKey, tuple[int, int]]) -> dict[CounterKey, Claimed]:
    """SQLite (the demo) writes one transaction at a time: the same arithmetic, counter by counter."""
    claimed = {}
    for key in keys:
        wanted, limit = wants[key]
        campaign, budget, member, period = key
        counter, _ = BudgetCounter.objects.get_or_create(
            campaign_id=campaign, budget=budget, member_id=member, period_start=period, defaults={"cap": limit}
        )
        before = counter.used
        BudgetCounter.objects.filter(pk=counter.pk).update(
            used=Greatest(F("used"), Least(limit, F("used") + wanted)), cap=limit
        )
        counter.refresh_from_db(fields=["used"])
        claimed[key] = Claimed(before, counter.used, limit, wanted)
    return claimed


def _remember_exhausted(key: CounterKey) -> None:
    """Once the claim commits: a rolled-back claim used nothing up."""
    version = last_config().version
    transaction.on_commit(lambda: _exhausted.__setitem__(key, (version, time.monotonic())))


def note_claimed(claimed: Mapping[CounterKey, Claimed], campaigns: Mapping[int, RunningCampaign]) -> None:
    """After a claim that fit: the counters it used up are remembered, and a campaign-wide limit
    used up is published once as campaign.budget_exhausted."""
    occurrences = []
    for key, counter in claimed.items():
        if counter.after < counter.limit:
            continue
        _remember_exhausted(key)
        campaign_id, name, member_id, period = key
        if member_id != CAMPAIGN_WIDE or counter.before >= counter.limit:
            continue
        campaign = campaigns[campaign_id]
        payload = {
            "campaign": campaign.code,
            "budget": name,
            "per": campaign.terms.budget.limits()[name].per,
            "period_start": period.isoformat(),
            "limit": counter.limit,
        }
        occurrences.append(Occurrence("campaign.budget_exhausted", payload))
    publish_many(occurrences)


def give_back(amounts: Mapping[CounterKey, int]) -> None:
    """Take amounts off counters (a claim undone, a return's reversal), never below zero, in one
    statement locking them in key order."""
    keys = sorted(key for key, amount in amounts.items() if amount > 0)
    for key in amounts:
        _exhausted.pop(key, None)
    if not keys:
        return
    if connection.vendor != "postgresql":
        for campaign, budget, member, period in keys:
            BudgetCounter.objects.filter(
                campaign_id=campaign, budget=budget, member_id=member, period_start=period
            ).update(used=Greatest(F("used") - amounts[(campaign, budget, member, period)], 0))
        return
    table = BudgetCounter._meta.db_table
    fetch_all(
        f"""WITH w AS (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::date[], %s::bigint[])
                       AS w(c, b, m, p, amount)),
                locked AS (SELECT k.id, w.amount FROM {table} k
                           JOIN w ON k.campaign_id = w.c AND k.budget = w.b
                                 AND k.member_id = w.m AND k.period_start = w.p
                           ORDER BY {KEY_ORDER} FOR UPDATE OF k)
            UPDATE {table} k SET used = GREATEST(k.used - locked.amount, 0) FROM locked WHERE k.id = locked.id
            RETURNING k.id""",
        [*([key[i] for key in keys] for i in range(4)), [amounts[key] for key in keys]],
    )
