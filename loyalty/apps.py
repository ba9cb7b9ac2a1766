from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty engine")

    def ready(self):
        from . import audit, jobs, program_sections
        from .api import schema  # noqa: F401  registers the OpenAPI description of the API key scheme
        from .models.events import BUILTIN_EVENT_TYPES
        from .names import builtin_names
        from .services import configuration, privacy

        builtin_names.update(BUILTIN_EVENT_TYPES.values())
        jobs.register()
        audit.register()
        configuration.register()
        program_sections.register()
        privacy.register()
