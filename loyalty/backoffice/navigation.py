"""The dashboard's list of screens, grouped by what operators do rather than by Django app; the
plumbing (login lockouts, Celery's schedule tables, the outbox) under a collapsed "System"."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass
class Link:
    name: str
    url: str
    add_url: str | None = None


@dataclass
class Group:
    key: str
    name: str
    links: list[Link] = field(default_factory=list)
    collapsed: bool = False


# Group key, title, the models in it ("app_label.model_name"; "app_label.*" for a whole app).
TASKS = (
    (
        "members",
        _("Members"),
        (
            "members.member",
            "loyalty.adjustment",
            "loyalty.event",
            "loyalty.pointsentry",
            "loyalty.growthentry",
            "loyalty.tierchange",
        ),
    ),
    ("program", _("Program"), ("loyalty.programsettings", "loyalty.tier", "loyalty.eventtype", "loyalty.earningrule")),
    (
        "mall",
        _("Mall"),
        (
            "rewards.reward",
            "rewards.redemption",
            "rewards.coupontemplate",
            "rewards.coupon",
            "rewards.codepool",
            "rewards.poolcode",
            "rewards.benefit",
            "rewards.benefitgrant",
            "rewards.pointshold",
        ),
    ),
    ("campaigns", _("Campaigns"), ("campaigns.*",)),
    ("reports", _("Reports"), ()),
    ("jobs", _("Jobs"), ("loyalty.jobrun", "django_celery_beat.periodictask")),
    ("notifications", _("Notifications"), ("notifications.*",)),
    ("integrations", _("Integrations"), ("webhooks.endpoint", "webhooks.delivery")),
    (
        "access",
        _("Access"),
        ("auth.user", "auth.group", "loyalty.storefront", "loyalty.storefrontapikey", "loyalty.approvallimitchange"),
    ),
)


def task_groups(request, app_list: list[dict]) -> list[Group]:
    """`app_list` is the admin's (only what the user may see); groups with nothing in them are left out."""
    groups = {key: Group(key, str(title)) for key, title, _models in TASKS}
    system = Group("system", str(_("System")), collapsed=True)
    place = {model: key for key, _title, models in TASKS for model in models}
    for app in app_list:
        for model in app["models"]:
            name = f"{app['app_label']}.{model['object_name'].lower()}"
            key = place.get(name) or place.get(f"{app['app_label']}.*")
            link = Link(str(model["name"]), model.get("admin_url") or "", model.get("add_url"))
            if link.url:
                (groups[key] if key else system).links.append(link)
    user = request.user
    if user.has_perm("loyalty.change_tier"):
        groups["program"].links.append(Link(str(_("Tier thresholds: what if?")), reverse("admin:loyalty_tier_whatif")))
    if user.has_perm("loyalty.view_programsettings"):
        groups["program"].links.append(Link(str(_("Program file")), reverse("admin:loyalty_program_file")))
        groups["reports"].links.append(Link(str(_("Program design")), reverse("admin:program_design")))
    ordered = [groups[key] for key, _title, _models in TASKS] + [system]
    return [group for group in ordered if group.links]
