"""Program settings for the rewards: the cost guard's target value per point and how long points
holds last.

SQLite adds a column by rebuilding the table, which drops the triggers on it and fails on the
triggers of other tables that name it (migration 0008); they are dropped first and recreated after.
PostgreSQL adds the column in place and keeps its triggers."""

import importlib
from decimal import Decimal

import django.core.validators
from django.db import migrations, models

config_version = importlib.import_module("loyalty.migrations.0008_config_version")


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        config_version.drop_triggers(apps, schema_editor)


def create_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        config_version.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0008_config_version")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AddField(
            model_name="programsettings",
            name="hold_minutes",
            field=models.PositiveIntegerField(
                default=30,
                help_text="Points held for an order are released if not captured within this many minutes.",
                validators=[django.core.validators.MinValueValidator(1)],
            ),
        ),
        migrations.AddField(
            model_name="programsettings",
            name="target_value_per_point",
            field=models.DecimalField(
                decimal_places=4,
                default=Decimal("0.01"),
                help_text="Budget: the most a reward may pay per point (cash value / points cost); the admin warns above.",
                max_digits=10,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
