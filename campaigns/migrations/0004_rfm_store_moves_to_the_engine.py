"""The RFM store is the engine's now (loyalty 0020 renames the table): forgotten here, not dropped."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0003_growth_64_bit'),
        ('loyalty', '0020_rfm_store_moves_to_the_engine'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='MemberRFM')],
        ),
    ]
