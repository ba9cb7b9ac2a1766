"""The staff roles get the permissions of the actions that now need their own (docs/admin.md,
"Roles"): Operations fulfils, cancels and voids in the mall and releases points holds (and sees the
lists they are on); Finance changes the approval limits. Support gets none of them.

Like 0013, running it again changes nothing; the reverse takes back only what this adds."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "Operations": [
        "rewards.view_redemption",
        "rewards.view_coupon",
        "rewards.view_pointshold",
        "rewards.fulfil_redemption",
        "rewards.cancel_redemption",
        "rewards.void_coupon",
        "rewards.release_hold",
    ],
    "Finance": [
        "loyalty.change_approval_limits",
        "loyalty.view_approvallimitchange",
    ],
}


def _permissions(apps, schema_editor):
    labels = sorted({name.split(".")[0] for names in GRANTS.values() for name in names})
    for label in labels:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=schema_editor.connection.alias, apps=apps)
    Permission = apps.get_model("auth", "Permission")
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.filter(content_type__app_label__in=labels).select_related("content_type")
    }
    missing = sorted({name for names in GRANTS.values() for name in names} - found.keys())
    if missing:
        raise RuntimeError(f"Permissions the roles need do not exist: {', '.join(missing)}")
    return found


def grant(apps, schema_editor):
    found = _permissions(apps, schema_editor)
    Group = apps.get_model("auth", "Group")
    for role, names in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(found[name] for name in names))


def take_back(apps, schema_editor):
    found = _permissions(apps, schema_editor)
    Group = apps.get_model("auth", "Group")
    for role, names in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(*(found[name] for name in names))


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0018_hardening"),
        ("rewards", "0005_staff_permissions_and_64_bit"),
        ("loyalty", "0013_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, take_back)]
