from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = "Loyalty engine"

    def ready(self):
        from .api import schema  # noqa: F401  registers the OpenAPI description of the API key scheme
