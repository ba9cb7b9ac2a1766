"""Manual adjustments with maker-checker, the approval limits in the program settings, dry runs of
jobs. Adding the settings columns rebuilds the table on SQLite: its config triggers are dropped first
and recreated after, as in 0009."""

import importlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


rewards_settings = importlib.import_module("loyalty.migrations.0009_rewards_settings")


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0009_rewards_settings'),
        ('members', '0003_member_fillfactor'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rewards_settings.drop_sqlite_triggers, rewards_settings.create_sqlite_triggers),
        migrations.CreateModel(
            name='Adjustment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('points', 'Points'), ('growth', 'Growth value')], max_length=10, verbose_name='kind')),
                ('amount', models.IntegerField(help_text='Signed: positive adds, negative takes away.', verbose_name='amount')),
                ('reason', models.CharField(choices=[('goodwill', 'Goodwill gesture'), ('complaint', 'Complaint compensation'), ('correction', 'Correction of a wrong entry'), ('missing_order', 'Order missing from the storefront'), ('migration', 'Balance migrated from another system'), ('fraud', 'Fraud or abuse'), ('other', 'Other (explain in the note)')], max_length=20, verbose_name='reason')),
                ('note', models.CharField(blank=True, max_length=200, verbose_name='note')),
                ('points_expire_at', models.DateTimeField(blank=True, help_text="Added points only; empty = the program's rule.", null=True, verbose_name='points expire at')),
                ('status', models.CharField(choices=[('pending', 'Waiting for approval'), ('applied', 'Applied'), ('rejected', 'Rejected')], max_length=10, verbose_name='status')),
                ('batch', models.UUIDField(help_text='Adjustments asked for together (one bulk action).', verbose_name='batch')),
                ('requested_at', models.DateTimeField(auto_now_add=True, verbose_name='requested at')),
                ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='decided at')),
                ('decision_note', models.CharField(blank=True, max_length=200, verbose_name='decision note')),
            ],
            options={
                'verbose_name': 'adjustment',
                'verbose_name_plural': 'adjustments',
                'ordering': ['-requested_at', '-id'],
                'permissions': [('adjust_points', "Can adjust a member's points"), ('adjust_growth', "Can adjust a member's growth value"), ('approve_adjustment', 'Can approve or reject adjustments above the approval limit')],
            },
        ),
        migrations.AlterModelOptions(
            name='jobrun',
            options={'ordering': ['-started_at', '-id'], 'permissions': [('run_job', 'Can start jobs and dry runs from the admin')]},
        ),
        migrations.RemoveConstraint(
            model_name='jobrun',
            name='job_run_once_per_period',
        ),
        migrations.AddField(
            model_name='jobrun',
            name='dry_run',
            field=models.BooleanField(default=False, help_text="Each chunk's work is done and rolled back: the counts say what would change."),
        ),
        migrations.AddField(
            model_name='jobrun',
            name='started_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='jobrun',
            name='summary',
            field=models.JSONField(blank=True, default=list, help_text='Dry runs: what would change, in words.'),
        ),
        migrations.AddField(
            model_name='programsettings',
            name='approval_limit_growth',
            field=models.PositiveIntegerField(default=500, help_text="Manual growth adjustments larger than this (either sign) wait for a second person's approval."),
        ),
        migrations.AddField(
            model_name='programsettings',
            name='approval_limit_points',
            field=models.PositiveIntegerField(default=1000, help_text="Manual points adjustments larger than this (either sign) wait for a second person's approval."),
        ),
        migrations.AddConstraint(
            model_name='jobrun',
            constraint=models.UniqueConstraint(condition=models.Q(('dry_run', False)), fields=('job', 'period'), name='job_run_once_per_period'),
        ),
        migrations.AddField(
            model_name='adjustment',
            name='decided_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by'),
        ),
        migrations.AddField(
            model_name='adjustment',
            name='growth_entry',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='adjustment', to='loyalty.growthentry'),
        ),
        migrations.AddField(
            model_name='adjustment',
            name='member',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='adjustments', to='members.member'),
        ),
        migrations.AddField(
            model_name='adjustment',
            name='points_entry',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='adjustment', to='loyalty.pointsentry'),
        ),
        migrations.AddField(
            model_name='adjustment',
            name='requested_by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='requested by'),
        ),
        migrations.AddIndex(
            model_name='adjustment',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['status'], name='adjustment_pending_idx'),
        ),
        migrations.AddIndex(
            model_name='adjustment',
            index=models.Index(fields=['member', '-requested_at'], name='adjustment_member_idx'),
        ),
        migrations.AddIndex(
            model_name='adjustment',
            index=models.Index(fields=['batch'], name='adjustment_batch_idx'),
        ),
        migrations.AddConstraint(
            model_name='adjustment',
            constraint=models.CheckConstraint(condition=models.Q(('amount', 0), _negated=True), name='adjustment_amount_not_zero'),
        ),
        migrations.AddConstraint(
            model_name='adjustment',
            constraint=models.CheckConstraint(condition=models.Q(('points_expire_at__isnull', True), models.Q(('amount__gt', 0), ('kind', 'points')), _connector='OR'), name='adjustment_expiry_only_for_added_points'),
        ),
        migrations.RunPython(rewards_settings.create_sqlite_triggers, rewards_settings.drop_sqlite_triggers),
    ]
