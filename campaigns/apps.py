from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    """Tags, segments and campaigns, plugged into the engine (loyalty.extensions)."""

    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from loyalty import extensions
        from loyalty.names import builtin_names

        from . import (
            audit,
            contributor,
            demo,
            jobs,
            member_list,
            names,
            predicates,
            program_sections,
            selectors,
            storefront,
            triggers,
        )
        from .services import configuration, refresh

        builtin_names.update(names.BUILTIN_NAMES)
        predicates.register()
        jobs.register()
        storefront.register()
        contributor.register()
        member_list.register()
        audit.register()
        configuration.register()
        program_sections.register()
        extensions.demo_steps.register("tags and segments", extensions.DemoStep(run=demo.tags_and_segments))
        extensions.demo_steps.register("campaigns", extensions.DemoStep(run=demo.campaigns))
        extensions.member_panels.register(
            "tags and segments",
            extensions.MemberPanel("admin/campaigns/member_panels/tags.html", selectors.member_panel),
        )
        extensions.member_panels.register(
            "points explained",
            extensions.MemberPanel("admin/campaigns/member_panels/points_explained.html", selectors.points_explained),
        )
        extensions.outbox_subscribers.register(
            "segments", extensions.Subscriber(handle=refresh.note_changed_members, types=refresh.CHANGING_TYPES)
        )
        refresh.pin_sources.register("campaigns", selectors.pinned_by_campaigns)
        extensions.economics_sources.register(
            "campaigns",
            extensions.EconomicsSource(
                campaign_costs=selectors.campaign_costs, campaign_liability=selectors.campaign_liability
            ),
        )
        extensions.outbox_subscribers.register(
            "campaign triggers", extensions.Subscriber(handle=triggers.deliver, types=triggers.TRIGGERING_TYPES)
        )
        extensions.interval_tasks.register(
            "segments: refresh changed members", extensions.IntervalTask("campaigns.refresh_changed_members", 60)
        )
