from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Messages members notice (docs/notifications.md): made from the outbox's domain events,
    written in each member's language, sent by email and handed to the storefront's messaging
    service, within the member's consent. Plugged into the engine through loyalty.extensions;
    nothing below imports it."""

    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from loyalty import extensions
        from loyalty.services.configuration import ConfigWriter

        from . import checks, demo, jobs, program_file, selectors, services  # noqa: F401 - checks registers itself
        from .models import NotificationSettings

        jobs.register()
        extensions.outbox_subscribers.register(
            "notifications", extensions.Subscriber(handle_range=services.make_notifications_between)
        )
        extensions.interval_tasks.register(
            "notifications: send due notifications", extensions.IntervalTask("notifications.send_notifications", 10)
        )
        extensions.interval_tasks.register(
            "notifications: prune finished notifications",
            extensions.IntervalTask("notifications.prune_notifications", 86400),
        )
        extensions.config_writers.register(
            NotificationSettings._meta.label,
            ConfigWriter(NotificationSettings, "notification settings", checks=(services.check_settings,)),
        )
        extensions.personal_data_erasers.register("notification errors", services.erase_errors)
        extensions.demo_steps.register("notifications", extensions.DemoStep(run=demo.setup))
        extensions.program_sections.register(
            program_file.SECTION,
            extensions.ProgramSection(
                program_file.parse,
                program_file.apply,
                program_file.export,
                "notifications.change_notificationsettings",
            ),
            order=400,  # after the engine's, the rewards' and the campaigns' sections
        )
        extensions.member_panels.register(
            "notifications",
            extensions.MemberPanel("admin/notifications/member_panel.html", selectors.member_panel),
        )
