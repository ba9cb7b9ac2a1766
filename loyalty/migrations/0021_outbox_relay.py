"""The relay's state (loyalty.outbox): the numbering row, and each subscriber's progress. Operations
sees the outbox and the subscribers and may retry a failing one; Support sees the outbox (what
happened to a member, in order). Like 0019, running it again changes nothing."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GRANTS = {
    "Operations": [
        "members.view_domainevent",
        "loyalty.view_outboxsubscriber",
        "loyalty.retry_outboxsubscriber",
    ],
    "Support": ["members.view_domainevent"],
}


def create_numbering(apps, schema_editor):
    apps.get_model("loyalty", "OutboxNumbering").objects.get_or_create(pk=1)


def grant(apps, schema_editor):
    for label in ("members", "loyalty"):
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=schema_editor.connection.alias, apps=apps)
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for role, names in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0020_rfm_store_moves_to_the_engine'),
        ('members', '0010_domain_event_outbox'),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxNumbering',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_position', models.BigIntegerField(default=0)),
            ],
            options={
                'verbose_name': 'outbox numbering',
                'verbose_name_plural': 'outbox numbering',
            },
        ),
        migrations.CreateModel(
            name='OutboxSubscriber',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                ('position', models.BigIntegerField(default=0, verbose_name='position')),
                ('delivered', models.BigIntegerField(default=0, verbose_name='events delivered')),
                ('failures', models.PositiveIntegerField(default=0, verbose_name='failures in a row')),
                ('last_error', models.TextField(blank=True, verbose_name='last error')),
                ('retry_at', models.DateTimeField(blank=True, null=True, verbose_name='retry at')),
                ('last_delivery_at', models.DateTimeField(blank=True, null=True, verbose_name='last delivery')),
            ],
            options={
                'verbose_name': 'outbox subscriber',
                'verbose_name_plural': 'outbox subscribers',
                'ordering': ['name'],
                'permissions': [('retry_outboxsubscriber', 'Can retry a failing outbox subscriber now')],
            },
        ),
        migrations.RunPython(create_numbering, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
