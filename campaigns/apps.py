from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    """Tags and segments (campaigns to come), plugged into the engine (loyalty.extensions)."""

    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from loyalty import extensions
        from loyalty.names import builtin_names

        from . import audit, demo, jobs, names, predicates, program_sections, storefront
        from .services import configuration

        builtin_names.update(names.BUILTIN_NAMES)
        predicates.register()
        jobs.register()
        storefront.register()
        audit.register()
        configuration.register()
        program_sections.register()
        extensions.demo_steps.register("tags and segments", extensions.DemoStep(run=demo.tags_and_segments))
