from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    """Outbound webhooks (docs/webhooks.md): the outbox's domain events, signed and delivered to the
    registered endpoints. Plugged into the engine through loyalty.extensions; nothing below imports it."""

    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from loyalty import extensions

        from . import demo, services

        extensions.outbox_subscribers.register(
            "webhooks", extensions.Subscriber(handle_range=services.create_deliveries_between)
        )
        extensions.interval_tasks.register(
            "webhooks: send due deliveries", extensions.IntervalTask("webhooks.send_deliveries", 5)
        )
        extensions.interval_tasks.register(
            "webhooks: prune finished deliveries", extensions.IntervalTask("webhooks.prune_deliveries", 3600)
        )
        extensions.personal_data_erasers.register("webhook contacts", services.erase_contacts)
        extensions.demo_steps.register("webhooks", extensions.DemoStep(run=demo.setup))
