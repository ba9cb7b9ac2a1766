from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty engine")

    def ready(self):
        from .api import schema  # noqa: F401  registers the OpenAPI description of the API key scheme
