"""The staff roles as groups (docs/admin.md, "Roles"): Operations, Marketing, Finance, Support.

Permissions are created first (Django only creates them after all migrations, in post_migrate).
Running it again changes nothing: existing groups get any missing permission added and keep the
ones given to them since. The reverse removes the four groups."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

LEDGERS = ["loyalty.view_pointsentry", "loyalty.view_growthentry", "loyalty.view_event", "loyalty.view_tierchange"]


def _view_add_change(app_label: str, *models: str) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models for action in ("view", "add", "change")]


ROLES = {
    "Operations": [
        "members.view_member",
        "members.change_member",
        "members.freeze_member",
        "loyalty.adjust_points",
        "loyalty.adjust_growth",
        "loyalty.view_adjustment",
        *LEDGERS,
        "loyalty.view_jobrun",
        "loyalty.run_job",
    ],
    "Marketing": [
        *_view_add_change("loyalty", "earningrule", "eventtype", "tier", "programsettings"),
        *_view_add_change("rewards", "reward", "coupontemplate", "codepool", "benefit"),
        # Importing partner codes into the pools (docs/admin.md, "Import and export").
        "rewards.view_poolcode",
        "rewards.change_poolcode",
        "members.view_member",
    ],
    "Finance": [
        "loyalty.approve_adjustment",
        "members.export_member",
        "loyalty.export_pointsentry",
        "loyalty.export_growthentry",
        "loyalty.export_event",
        "loyalty.export_tierchange",
        "members.view_member",
        *LEDGERS,
        "loyalty.view_adjustment",
        "loyalty.view_jobrun",
        "loyalty.view_programsettings",
        "loyalty.view_tier",
        "loyalty.view_eventtype",
        "loyalty.view_earningrule",
        "rewards.view_reward",
        "rewards.view_coupontemplate",
        "rewards.view_codepool",
        "rewards.view_poolcode",
        "rewards.view_benefit",
        "rewards.view_benefitgrant",
        "rewards.view_redemption",
        "rewards.view_coupon",
        "rewards.view_pointshold",
    ],
    "Support": [
        "members.view_member",
        *LEDGERS,
        "rewards.view_redemption",
        "rewards.view_coupon",
    ],
}


def create_roles(apps, schema_editor):
    labels = sorted({permission.split(".")[0] for permissions in ROLES.values() for permission in permissions})
    for label in labels:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=schema_editor.connection.alias, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    found = {
        f"{permission.content_type.app_label}.{permission.codename}": permission
        for permission in Permission.objects.filter(content_type__app_label__in=labels).select_related("content_type")
    }
    missing = sorted({name for names in ROLES.values() for name in names} - found.keys())
    if missing:
        raise RuntimeError(f"Permissions the roles need do not exist: {', '.join(missing)}")
    for role, names in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(found[name] for name in names))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0012_configuration_history"),
        ("members", "0007_freeze_permission"),
        ("rewards", "0003_configuration_history"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
