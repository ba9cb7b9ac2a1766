"""Campaigns for the staff roles (docs/admin.md "Roles"): Marketing defines, publishes, pauses and
ends campaigns; Operations and Finance see them. Running it again changes nothing."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

SEEING = ["campaigns.view_campaign", "campaigns.view_campaignversion"]
GRANTS = {
    "Marketing": [*SEEING, "campaigns.add_campaign", "campaigns.change_campaign", "campaigns.publish_campaign"],
    "Operations": SEEING,
    "Finance": SEEING,
}


def grant(apps, schema_editor):
    create_permissions(
        global_apps.get_app_config("campaigns"), verbosity=0, using=schema_editor.connection.alias, apps=apps
    )
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for role, names in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0011_campaigns")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
