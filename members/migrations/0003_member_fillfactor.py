"""Leave a fifth of each members page free (PostgreSQL), so that balance updates — every event, and
the nightly jobs touching up to every member — can be HOT updates: the new row version stays on its
page and none of the table's indexes is written. Rows written before this keep their packed pages
until the table is rewritten (VACUUM FULL or pg_repack)."""

from django.db import migrations


def set_fillfactor(percent: int):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE members_member SET (fillfactor = {percent})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("members", "0002_leaner_member_indexes")]

    operations = [migrations.RunPython(set_fillfactor(80), set_fillfactor(100))]
