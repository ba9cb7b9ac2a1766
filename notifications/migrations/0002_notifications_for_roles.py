"""Notifications for the staff roles (loyalty 0013): everyone who sees members sees what they were
told and why; Marketing sets what is sent (kinds, channels, quiet hours, the cap), the others see
the settings. Like loyalty 0019, running it again changes nothing."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

SEE = ["notifications.view_notification", "notifications.view_notificationsettings"]
GRANTS = {
    "Operations": SEE,
    "Support": SEE,
    "Finance": SEE,
    "Marketing": [*SEE, "notifications.change_notificationsettings"],
}


def grant(apps, schema_editor):
    create_permissions(
        global_apps.get_app_config("notifications"), verbosity=0, using=schema_editor.connection.alias, apps=apps
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
        ("notifications", "0001_initial"),
        ("loyalty", "0013_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
