"""Triggers that give program settings a new random `config_version` on every change to the
configuration the engine caches (loyalty.config). Triggers rather than Django signals: they also see
QuerySet.update(), raw SQL and program-file imports. Random rather than incremented: a version seen
inside a transaction that later rolls back is never reused for different content.

On SQLite, a later migration that rebuilds one of these tables (AddField, AlterField ...) must drop
the triggers before and recreate them after, as 0009 does: the rebuild fails on them."""

from django.db import migrations, models

CONFIG_TABLES = ("loyalty_tier", "loyalty_earningrule", "loyalty_eventtype")

POSTGRES = [
    """CREATE FUNCTION loyalty_new_config_version() RETURNS trigger AS $$
       BEGIN NEW.config_version := floor(random() * 9.2e18 - 4.6e18)::bigint; RETURN NEW; END
       $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER loyalty_programsettings_version BEFORE INSERT OR UPDATE ON loyalty_programsettings
       FOR EACH ROW EXECUTE FUNCTION loyalty_new_config_version()""",
    """CREATE FUNCTION loyalty_config_changed() RETURNS trigger AS $$
       BEGIN UPDATE loyalty_programsettings SET config_version = 0; RETURN NULL; END
       $$ LANGUAGE plpgsql""",
    *(
        f"""CREATE TRIGGER {table}_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION loyalty_config_changed()"""
        for table in CONFIG_TABLES
    ),
]
POSTGRES_REVERSE = [
    *(f"DROP TRIGGER {table}_config_changed ON {table}" for table in CONFIG_TABLES),
    "DROP FUNCTION loyalty_config_changed()",
    "DROP TRIGGER loyalty_programsettings_version ON loyalty_programsettings",
    "DROP FUNCTION loyalty_new_config_version()",
]

# SQLite's triggers cannot assign NEW; an AFTER trigger updates the row instead (SQLite does not
# fire a trigger from its own update unless recursive_triggers is on, which Django leaves off).
SQLITE_BUMP = "UPDATE loyalty_programsettings SET config_version = random()"
SQLITE_TRIGGERS = {
    "loyalty_programsettings_insert": f"AFTER INSERT ON loyalty_programsettings BEGIN {SQLITE_BUMP}; END",
    "loyalty_programsettings_update": f"AFTER UPDATE ON loyalty_programsettings BEGIN {SQLITE_BUMP}; END",
    **{
        f"{table}_{operation.lower()}": f"AFTER {operation} ON {table} BEGIN {SQLITE_BUMP}; END"
        for table in CONFIG_TABLES
        for operation in ("INSERT", "UPDATE", "DELETE")
    },
}


def create_triggers(apps, schema_editor):
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES:
            run(sql)
    elif schema_editor.connection.vendor == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            run(f"CREATE TRIGGER {name} {body}")
    else:
        raise NotImplementedError(f"No config-version triggers for {schema_editor.connection.vendor}.")
    run("UPDATE loyalty_programsettings SET config_version = 1")


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES_REVERSE:
            schema_editor.execute(sql)
    else:
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER {name}")


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0007_leaner_ledger_indexes")]

    operations = [
        migrations.AddField(
            model_name="programsettings",
            name="config_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
