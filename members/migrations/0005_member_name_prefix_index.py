"""The admin searches names by prefix, case-insensitively (UPPER(name) LIKE 'ABC%'). Only
PostgreSQL needs an operator-class index for that; SQLite's demo is small enough to scan."""

from django.db import migrations

INDEX = "member_name_upper_prefix_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON members_member (UPPER(name) text_pattern_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("members", "0004_member_search_indexes")]

    operations = [migrations.RunPython(create_index, drop_index)]
