"""The campaigns' demo steps (loyalty.extensions.demo_steps): after the jobs have kept the shipped
rule tags, a tag storefronts may set and three example segments, computed with real counts; then
three campaigns, one running with a holdout and a history that its uplift report measures."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from loyalty.services import record_events

from . import earning, terms, uplift
from .models import Campaign, CampaignAssignment, CampaignVersion, Tag
from .services import save_segment
from .services.campaigns import publish_campaign, save_campaign

EXAMPLE_SEGMENTS = [
    ("gold-plus", "Gold and up", {"tier": {"at_least": "gold"}}),
    (
        "win-back",
        "Win back: dormant, silver and up",
        {"all": [{"tag": "dormant_90d"}, {"tier": {"at_least": "silver"}}]},
    ),
    ("birthday-next-30", "Birthday in the next 30 days", {"all": [{"birthday_within_days": 30}, {"status": "active"}]}),
]


def tags_and_segments(stdout, seed: int) -> None:
    Tag.objects.get_or_create(
        code="vip-event-2026",
        defaults={"name": "VIP event guest", "group": "events", "colour": "#0891b2", "api_writable": True},
    )
    counts = []
    for code, name, definition in EXAMPLE_SEGMENTS:
        segment = save_segment(code=code, name=name, definition=definition)
        counts.append(f"{code} {segment.current.member_count}")
    stdout.write(f"Segments: {', '.join(counts)} members.")


def campaigns(stdout, seed: int) -> None:
    """Three campaigns: a running double-points month with a 20% holdout and four weeks of simulated
    history (the treated buy a little more, so its uplift report shows a result), a first-purchase
    bonus and a win-back for dormant silver-and-up members."""
    now = timezone.now()
    started = now - timedelta(days=28)
    save_campaign(
        code="double-points-month",
        name="Double points month",
        description="Every purchase earns double points for a month.",
        kind=terms.MULTIPLIER,
        terms={"event_types": ["purchase"], "points_multiplier": "2", "ends_at": (now + timedelta(days=3)).isoformat()},
        public=True,
        holdout_percent=20,
    )
    campaign = publish_campaign(code="double-points-month")
    _simulate_history(campaign, started, now, random.Random(seed))
    save_campaign(
        code="first-buy",
        name="First purchase bonus",
        kind=terms.TRIGGERED,
        terms={"trigger": {"type": "first_purchase"}, "reward": {"points": 200}, "budget": {"grants": 10000}},
        public=True,
    )
    publish_campaign(code="first-buy")
    save_campaign(
        code="winback-90",
        name="Win back after 90 days",
        kind=terms.TRIGGERED,
        terms={
            "trigger": {"type": "dormant", "days": 90},
            "audience": {"segment": "win-back"},
            "reward": {"points": 500, "coupon_template": "ten-off-99"},
        },
    )
    publish_campaign(code="winback-90")
    report = uplift.uplift_report(campaign, now=now)
    verdict = report.verdict if report else "none"
    stdout.write(f"Campaigns: double-points-month (uplift: {verdict}), first-buy, winback-90.")


def _simulate_history(campaign: Campaign, started, now, rng: random.Random) -> None:
    """The demo's four weeks of the campaign, as if it had launched then: its launch moved back (the
    only rows written directly, as the demo's generated history is), then purchases recorded through
    the event service, so the campaign applied to each. Treated members buy a little more often."""
    CampaignVersion.objects.filter(campaign=campaign).update(published_at=started)
    CampaignAssignment.objects.filter(campaign=campaign).update(assigned_at=started)
    assigned = list(
        CampaignAssignment.objects.filter(campaign=campaign).values_list("member__external_id", "member_id")
    )
    events = []
    for external_id, member_id in assigned:
        treated = not earning.held_out(campaign.salt, member_id, campaign.holdout_percent)
        if rng.random() > (0.62 if treated else 0.5):
            continue
        for n in range(rng.choice([1, 1, 2, 3])):
            amount = Decimal(rng.randrange(60, 400 if treated else 340))
            at = started + timedelta(seconds=rng.randrange(int((now - started).total_seconds()) - 60))
            events.append(
                {
                    "event_id": f"demo-campaign-{member_id}-{n}",
                    "member": external_id,
                    "type": "purchase",
                    "amount": str(amount),
                    "order_id": f"demo-campaign-{member_id}-{n}",
                    "occurred_at": at.isoformat(),
                }
            )
    for start in range(0, len(events), 500):
        record_events(source="demo", events=events[start : start + 500])
