"""Notes on members and closing memberships (members 0012): Operations and Support write notes,
Operations closes memberships. Erasing personal data is given to no role: a superuser, or a group
the operator makes for whoever handles such requests. Like 0019, running it again changes nothing."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Operations": ["members.view_membernote", "members.add_membernote", "members.close_member"],
    "Support": ["members.view_membernote", "members.add_membernote"],
}


def grant(apps, schema_editor):
    create_permissions(global_apps.get_app_config("members"), verbosity=0, using=schema_editor.connection.alias, apps=apps)
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for role, names in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0023_adjustment_requester_notified"),
        ("members", "0012_member_notes_and_anonymising"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
