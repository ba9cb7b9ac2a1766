"""Tags and segments for the staff roles (loyalty 0013, docs/admin.md "Roles"): Marketing defines
tags and segments and tags members; Operations sees them and tags members. Running it again changes
nothing."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Marketing": [
        "campaigns.view_tag",
        "campaigns.add_tag",
        "campaigns.change_tag",
        "campaigns.view_segment",
        "campaigns.add_segment",
        "campaigns.change_segment",
        "campaigns.tag_members",
    ],
    "Operations": ["campaigns.view_tag", "campaigns.view_segment", "campaigns.tag_members"],
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
    dependencies = [
        ("campaigns", "0008_tag_history"),
        ("loyalty", "0024_member_notes_for_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
