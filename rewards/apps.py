from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    """Points mall, benefits, coupons and points holds, plugged into the engine (loyalty.extensions)."""

    name = "rewards"
    verbose_name = _("Rewards")

    def ready(self):
        from loyalty import extensions
        from loyalty.names import builtin_names

        from . import audit, demo, jobs, names, program_sections, selectors, storefront
        from .services import configuration, redemptions

        builtin_names.update(names.BUILTIN_NAMES)
        jobs.register()
        storefront.register()
        extensions.member_panels.register(
            "redemptions",
            extensions.MemberPanel("admin/rewards/member_panels/redemptions.html", selectors.recent_redemptions),
        )
        extensions.member_panels.register(
            "coupons", extensions.MemberPanel("admin/rewards/member_panels/coupons.html", selectors.recent_coupons)
        )
        extensions.economics_sources.register(
            "points mall",
            extensions.EconomicsSource(redeemed=selectors.redeemed_rewards, granted=selectors.benefit_grants),
        )
        audit.register()
        configuration.register()
        program_sections.register()
        extensions.demo_steps.register("points mall", extensions.DemoStep(run=demo.populate_the_mall))
        extensions.personal_data_erasers.register("shipping addresses", redemptions.erase_shipping_addresses)
