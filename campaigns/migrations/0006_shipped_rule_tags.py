"""A fresh install has the rule tags of the source articles' segmentation (标签): new and dormant
members, the high-value RFM quadrant, birthday month, frequent returners. Operators change them in
the admin or with `program import`; the nightly refresh_segments job keeps who carries them."""

from django.db import migrations

TAGS = [
    dict(code="new_30d", name="New in the last 30 days", group="lifecycle", colour="#16a34a",
         definition={"joined_within_days": 30}),
    dict(code="dormant_90d", name="Dormant 90 days", group="lifecycle", colour="#b45309",
         definition={"all": [{"days_since_last_purchase": {"gte": 90}},
                             {"purchases_in_days": {"days": 3650, "count": {"gte": 1}}}]}),
    dict(code="high_value", name="High value", group="value", colour="#7c3aed",
         definition={"rfm_quadrant": "high_spend_high_frequency"}),
    dict(code="birthday_month", name="Birthday this month", group="occasion", colour="#db2777",
         definition={"birthday_month": "current"}),
    dict(code="frequent_returner", name="Frequent returner", group="behaviour", colour="#dc2626",
         definition={"returns_in_days": {"days": 180, "count": {"gte": 3}, "share_of_purchases": {"gte": "0.3"}}}),
]


def ship(apps, schema_editor):
    Tag = apps.get_model("campaigns", "Tag")
    for tag in TAGS:
        Tag.objects.get_or_create(code=tag["code"], defaults={**tag, "kind": "rule"})


def unship(apps, schema_editor):
    apps.get_model("campaigns", "Tag").objects.filter(code__in=[tag["code"] for tag in TAGS], carriers=None).delete()


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_tags_and_segments")]

    operations = [migrations.RunPython(ship, unship)]
