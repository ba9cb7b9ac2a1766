"""Notifications in the admin (docs/notifications.md): the program's settings (which kinds go out
on which channel, the default language, quiet hours, the daily cap), saved through the
configuration writer with their history; and the notifications themselves, read-only, each with the
text as the member got it."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from loyalty.admin import ReadOnlyAdmin
from loyalty.admin_history import ConfigForm, ConfigHistoryAdmin
from loyalty.config import current_config

from .email import message_text
from .kinds import kind_choices, kinds
from .models import Notification, NotificationSettings
from .reasons import reason_text


class NotificationSettingsForm(ConfigForm):
    email_kinds = forms.MultipleChoiceField(
        label=_("Sent by email"), required=False, choices=kind_choices, widget=forms.CheckboxSelectMultiple
    )
    message_kinds = forms.MultipleChoiceField(
        label=_("Sent as messages"),
        required=False,
        choices=kind_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=NotificationSettings._meta.get_field("message_kinds").help_text,
    )

    class Meta:
        model = NotificationSettings
        fields = "__all__"
        # Wall-clock times in the program's zone, not moments: the admin's time widget would add
        # "Now" and a warning about the browser's offset, both beside the point here.
        widgets = {
            "quiet_hours_start": forms.TimeInput(format="%H:%M", attrs={"size": 6}),
            "quiet_hours_end": forms.TimeInput(format="%H:%M", attrs={"size": 6}),
        }


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(ConfigHistoryAdmin):
    form = NotificationSettingsForm
    list_display = ("__str__", "default_language", "quiet_hours", "daily_marketing_cap", "at_risk_days")
    fieldsets = (
        (None, {"fields": ("default_language",)}),
        (_("Kinds and channels"), {"fields": ("email_kinds", "message_kinds")}),
        (
            _("Marketing messages"),
            {
                "fields": ("quiet_hours_start", "quiet_hours_end", "daily_marketing_cap"),
                "description": _(
                    "Marketing kinds (tier at risk, points expiring, coupon expiring) go only to members who opted "
                    "in; the others tell members about their account and always go."
                ),
            },
        ),
        (_("Scheduled notices"), {"fields": ("at_risk_days",)}),
    )

    @admin.display(description=_("quiet hours"))
    def quiet_hours(self, config: NotificationSettings) -> str:
        if config.quiet_hours_start == config.quiet_hours_end:
            return "—"
        return f"{config.quiet_hours_start:%H:%M}–{config.quiet_hours_end:%H:%M}"

    def has_add_permission(self, request):
        return not NotificationSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        NotificationSettings.current()  # the one row exists before anyone opens it
        return super().changelist_view(request, extra_context)


class KindFilter(admin.SimpleListFilter):
    """The kinds from the registry: Django's own filter on a plain field would read them with a
    SELECT DISTINCT over every notification at each page load."""

    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(code, kind.label) for code, kind in kinds.items()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "member", "kind_shown", "channel", "status_shown", "reason_shown", "sent_at")
    list_filter = ("status", "channel", KindFilter, "marketing")
    search_fields = ("member__external_id",)
    search_help_text = _("A member's external id, exactly.")
    list_select_related = ("member",)
    fields = (
        "member",
        "kind_shown",
        "channel",
        "marketing",
        "status_shown",
        "reason_shown",
        "language",
        "created_at",
        "send_after",
        "sent_at",
        "attempts",
        "error",
        "event_id",
        "text_shown",
    )
    readonly_fields = fields

    @admin.display(description=_("kind"), ordering="kind")
    def kind_shown(self, notification: Notification) -> str:
        kind = kinds.get(notification.kind)
        return str(kind.label) if kind else notification.kind

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, notification: Notification) -> str:
        return format_html(
            '<span class="status status-{}">{}</span>', notification.status, notification.get_status_display()
        )

    @admin.display(description=_("why"))
    def reason_shown(self, notification: Notification) -> str:
        return reason_text(notification.reason) if notification.reason else ""

    @admin.display(description=_("text (as the member reads it)"))
    def text_shown(self, notification: Notification) -> str:
        """Written again from the kept details, in the member's language, as it was sent."""
        if notification.kind not in kinds:
            return "—"
        with timezone.override(current_config().settings.zone):
            # A message greets no one by name (it is a domain event); an email greets the member.
            member = notification.member if notification.channel == Notification.Channel.EMAIL else None
            subject, text = message_text(notification, member, NotificationSettings.current())
        return format_html('<div class="notification-text"><strong>{}</strong><pre>{}</pre></div>', subject, text)
