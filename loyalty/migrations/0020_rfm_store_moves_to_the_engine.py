"""The members' RFM store moves from campaigns to the engine, its one owner (the program design report
reads it, the store_member_rfm job writes it, campaigns target on it): the same table, renamed, with
its rows. campaigns 0004 forgets the model on its side."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0019_action_permissions_for_roles'),
        ('members', '0009_balances_64_bit'),
        ('campaigns', '0003_growth_64_bit'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE campaigns_memberrfm RENAME TO loyalty_memberrfm",
                    "ALTER TABLE loyalty_memberrfm RENAME TO campaigns_memberrfm",
                ),
            ],
            state_operations=[
        migrations.CreateModel(
            name='MemberRFM',
            fields=[
                ('member', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='rfm', serialize=False, to='members.member')),
                ('window_days', models.PositiveSmallIntegerField()),
                ('frequency', models.PositiveIntegerField(help_text='Purchases in the window.')),
                ('monetary', models.DecimalField(decimal_places=2, help_text='Purchases less returns in the window (not below 0).', max_digits=14)),
                ('last_purchase_at', models.DateTimeField(blank=True, help_text='Last purchase in the window.', null=True)),
                ('recency_days', models.PositiveIntegerField(blank=True, help_text='Whole days from the last purchase to computed_at; empty: none in the window.', null=True)),
                ('growth_value', models.PositiveBigIntegerField(default=0)),
                ('closed', models.BooleanField(default=False, help_text='The member was closed (the reports leave them out).')),
                ('period', models.CharField(help_text="The job run's period (program day).", max_length=16)),
                ('computed_at', models.DateTimeField(help_text="The job run's as_of: the end of the window.")),
                ('tier', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='loyalty.tier')),
            ],
            options={
                'verbose_name': 'member RFM',
                'verbose_name_plural': 'member RFM',
                'db_table': 'loyalty_memberrfm',
                'indexes': [models.Index(fields=['monetary', 'frequency'], name='member_rfm_m_f_idx')],
            },
        ),
            ],
        ),
    ]
