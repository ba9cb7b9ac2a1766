"""Hardening (docs/engine.md, docs/admin.md): balances, lots, counters and event results become 64-bit;
the program settings gain return_downgrade and max_event_age_days; the approval limits get their own
permission and a record of every change.

On SQLite the program settings table is rebuilt, so the configuration triggers (0008) are dropped
first and recreated after, as in 0009. Each AlterField to bigint rewrites its table on PostgreSQL:
on a large deployment, plan this migration for a quiet hour (docs/engine.md)."""

import importlib

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


config_version = importlib.import_module("loyalty.migrations.0008_config_version")


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        config_version.drop_triggers(apps, schema_editor)


def create_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        config_version.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0017_weight_matrix_summaries'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, create_sqlite_triggers),
        migrations.AlterModelOptions(
            name='programsettings',
            options={'permissions': [('change_approval_limits', 'Can change the approval limits (raises need a second person)')], 'verbose_name': 'program settings', 'verbose_name_plural': 'program settings'},
        ),
        migrations.AddField(
            model_name='historicalprogramsettings',
            name='max_event_age_days',
            field=models.PositiveIntegerField(default=730, help_text='Storefronts may report events that happened up to this many days ago; older ones are refused (event_too_old) and belong in an import.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(36500)], verbose_name='oldest event accepted (days)'),
        ),
        migrations.AddField(
            model_name='historicalprogramsettings',
            name='return_downgrade',
            field=models.CharField(choices=[('immediate', 'At once, back to what the growth still qualifies for'), ('at_recalculation', 'At the next scheduled recalculation')], default='immediate', help_text='When a return takes growth below the threshold of a tier reached since the last recalculation: move the member back at once (never below the tier held at that recalculation), or wait for the next one.', max_length=20, verbose_name='downgrade after a return'),
        ),
        migrations.AddField(
            model_name='programsettings',
            name='max_event_age_days',
            field=models.PositiveIntegerField(default=730, help_text='Storefronts may report events that happened up to this many days ago; older ones are refused (event_too_old) and belong in an import.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(36500)], verbose_name='oldest event accepted (days)'),
        ),
        migrations.AddField(
            model_name='programsettings',
            name='return_downgrade',
            field=models.CharField(choices=[('immediate', 'At once, back to what the growth still qualifies for'), ('at_recalculation', 'At the next scheduled recalculation')], default='immediate', help_text='When a return takes growth below the threshold of a tier reached since the last recalculation: move the member back at once (never below the tier held at that recalculation), or wait for the next one.', max_length=20, verbose_name='downgrade after a return'),
        ),
        migrations.AlterField(
            model_name='adjustment',
            name='amount',
            field=models.BigIntegerField(help_text='Signed: positive adds, negative takes away.', verbose_name='amount'),
        ),
        migrations.AlterField(
            model_name='event',
            name='growth_delta',
            field=models.BigIntegerField(default=0, verbose_name='growth'),
        ),
        migrations.AlterField(
            model_name='event',
            name='points_delta',
            field=models.BigIntegerField(default=0, verbose_name='points'),
        ),
        migrations.AlterField(
            model_name='growthallocation',
            name='amount',
            field=models.PositiveBigIntegerField(verbose_name='amount'),
        ),
        migrations.AlterField(
            model_name='growthentry',
            name='amount',
            field=models.BigIntegerField(help_text='Signed: positive credits, negative debits.', verbose_name='amount'),
        ),
        migrations.AlterField(
            model_name='growthentry',
            name='remaining',
            field=models.BigIntegerField(blank=True, help_text='Lots only: what is still held.', null=True, verbose_name='remaining'),
        ),
        migrations.AlterField(
            model_name='historicalprogramsettings',
            name='approval_limit_growth',
            field=models.PositiveBigIntegerField(default=500, help_text="Manual growth adjustments larger than this (either sign), or that add up to more for one member by one person within 24 hours, wait for a second person's approval. Changed under Approval limit changes.", verbose_name='approval limit (growth value)'),
        ),
        migrations.AlterField(
            model_name='historicalprogramsettings',
            name='approval_limit_points',
            field=models.PositiveBigIntegerField(default=1000, help_text="Manual points adjustments larger than this (either sign), or that add up to more for one member by one person within 24 hours, wait for a second person's approval. Changed under Approval limit changes.", verbose_name='approval limit (points)'),
        ),
        migrations.AlterField(
            model_name='jobchunk',
            name='entries_written',
            field=models.PositiveBigIntegerField(default=0, verbose_name='entries written'),
        ),
        migrations.AlterField(
            model_name='jobchunk',
            name='members_changed',
            field=models.PositiveBigIntegerField(default=0, verbose_name='members changed'),
        ),
        migrations.AlterField(
            model_name='jobrun',
            name='entries_written',
            field=models.PositiveBigIntegerField(default=0, verbose_name='entries written'),
        ),
        migrations.AlterField(
            model_name='jobrun',
            name='members_changed',
            field=models.PositiveBigIntegerField(default=0, verbose_name='members changed'),
        ),
        migrations.AlterField(
            model_name='pointsallocation',
            name='amount',
            field=models.PositiveBigIntegerField(verbose_name='amount'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='amount',
            field=models.BigIntegerField(help_text='Signed: positive credits, negative debits.', verbose_name='amount'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='remaining',
            field=models.BigIntegerField(blank=True, help_text='Lots only: what is still held.', null=True, verbose_name='remaining'),
        ),
        migrations.AlterField(
            model_name='programsettings',
            name='approval_limit_growth',
            field=models.PositiveBigIntegerField(default=500, help_text="Manual growth adjustments larger than this (either sign), or that add up to more for one member by one person within 24 hours, wait for a second person's approval. Changed under Approval limit changes.", verbose_name='approval limit (growth value)'),
        ),
        migrations.AlterField(
            model_name='programsettings',
            name='approval_limit_points',
            field=models.PositiveBigIntegerField(default=1000, help_text="Manual points adjustments larger than this (either sign), or that add up to more for one member by one person within 24 hours, wait for a second person's approval. Changed under Approval limit changes.", verbose_name='approval limit (points)'),
        ),
        migrations.AlterField(
            model_name='rulehit',
            name='growth',
            field=models.BigIntegerField(verbose_name='growth'),
        ),
        migrations.AlterField(
            model_name='rulehit',
            name='points',
            field=models.BigIntegerField(verbose_name='points'),
        ),
        migrations.AlterField(
            model_name='tierchange',
            name='growth_value',
            field=models.BigIntegerField(help_text="The member's growth value when the change was made.", verbose_name='growth value'),
        ),
        migrations.AlterField(
            model_name='tierchange',
            name='reason',
            field=models.CharField(choices=[('enrolment', 'Enrolment'), ('upgrade', 'Upgrade on earning'), ('recalculation', 'Scheduled recalculation'), ('manual', 'Manual change'), ('return', 'Back down after a return')], max_length=20, verbose_name='reason'),
        ),
        migrations.CreateModel(
            name='ApprovalLimitChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('points', 'Points'), ('growth', 'Growth value')], max_length=10, verbose_name='kind')),
                ('previous_limit', models.PositiveBigIntegerField(verbose_name='limit before')),
                ('new_limit', models.PositiveBigIntegerField(verbose_name='new limit')),
                ('note', models.CharField(blank=True, max_length=200, verbose_name='note')),
                ('status', models.CharField(choices=[('pending', 'Waiting for approval'), ('applied', 'Applied'), ('rejected', 'Rejected')], max_length=10, verbose_name='status')),
                ('requested_at', models.DateTimeField(auto_now_add=True, verbose_name='requested at')),
                ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='decided at')),
                ('decision_note', models.CharField(blank=True, max_length=200, verbose_name='decision note')),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by')),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='requested by')),
            ],
            options={
                'verbose_name': 'approval limit change',
                'verbose_name_plural': 'approval limit changes',
                'ordering': ['-requested_at', '-id'],
            },
        ),
        migrations.RunPython(create_sqlite_triggers, drop_sqlite_triggers),
    ]
