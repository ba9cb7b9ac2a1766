"""The campaigns' demo step (loyalty.extensions.demo_steps): after the jobs have kept the shipped
rule tags, a tag storefronts may set and three example segments, computed with real counts."""

from __future__ import annotations

from .models import Tag
from .services import save_segment

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
