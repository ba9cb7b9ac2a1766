"""A fresh install has a working program: the built-in event types, the six tiers of the source
articles, sensible earning rules and the settings row. Operators change it all with `program import`."""

from decimal import Decimal

from django.db import migrations

EVENT_TYPES = {
    "purchase": "Purchase",
    "return": "Return (refund of a purchase)",
    "check_in": "Daily check-in",
    "login": "Login",
    "profile_completed": "Profile completed",
    "review": "Review",
    "photo_review": "Photo review",
    "invite": "Invited a friend",
    "activity": "Took part in a platform activity",
    "points_import": "Partner points import",
    "complaint": "Unreasonable complaint",
    "violation": "Rule violation",
}

TIERS = [
    ("normal", "普通 Normal", 0, 0, "1"),
    ("bronze", "青铜 Bronze", 1, 500, "1"),
    ("silver", "白银 Silver", 2, 2000, "1.1"),
    ("gold", "黄金 Gold", 3, 6000, "1.2"),
    ("platinum", "白金 Platinum", 4, 15000, "1.5"),
    ("diamond", "钻石 Diamond", 5, 40000, "2"),
]

RULES = [
    dict(code="purchase", event_type_id="purchase", name="Purchase: 1 growth and 1 point per yuan",
         growth_per_unit=Decimal("1"), points_per_unit=Decimal("1"), apply_tier_multiplier=True),
    dict(code="check_in", event_type_id="check_in", name="Daily check-in", growth=5, points=2, daily_limit=1),
    dict(code="login", event_type_id="login", name="Daily login", growth=1, daily_limit=1),
    dict(code="profile_completed", event_type_id="profile_completed", name="Completed profile",
         growth=50, points=100, lifetime_limit=1),
    dict(code="review", event_type_id="review", name="Review", growth=10, points=10, daily_limit=5),
    dict(code="photo_review", event_type_id="photo_review", name="Photo review", growth=20, points=20,
         daily_limit=5),
    dict(code="invite", event_type_id="invite", name="Invited a friend", growth=100, points=200, daily_limit=10),
    dict(code="activity", event_type_id="activity", name="Platform activity", growth=5, daily_limit=3),
    dict(code="points_import", event_type_id="points_import", name="Partner points at 1:1",
         points_per_unit=Decimal("1")),
    dict(code="complaint", event_type_id="complaint", name="Unreasonable complaint", growth=-50),
    dict(code="violation", event_type_id="violation", name="Rule violation", growth=-200, points=-200),
]


def create_default_program(apps, schema_editor):
    EventType = apps.get_model("loyalty", "EventType")
    Tier = apps.get_model("loyalty", "Tier")
    EarningRule = apps.get_model("loyalty", "EarningRule")
    ProgramSettings = apps.get_model("loyalty", "ProgramSettings")
    ProgramSettings.objects.get_or_create(pk=1)
    for code, name in EVENT_TYPES.items():
        EventType.objects.update_or_create(code=code, defaults={"name": name, "is_builtin": True})
    if not Tier.objects.exists():
        for code, name, rank, threshold, multiplier in TIERS:
            Tier.objects.create(
                code=code, name=name, rank=rank, threshold=threshold, points_multiplier=Decimal(multiplier)
            )
    if not EarningRule.objects.exists():
        for rule in RULES:
            EarningRule.objects.create(**rule)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0002_initial")]

    operations = [migrations.RunPython(create_default_program, migrations.RunPython.noop)]
