"""Webhooks in the admin (docs/webhooks.md): endpoints with their health, the buttons that act on
one (rotate the secret, pause, resume, disable, send a test event, replay), and the deliveries with
every attempt and a resend. Each view declares its permission; the services check it again."""

from __future__ import annotations

import json
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from loyalty.admin import ReadOnlyAdmin
from members.errors import LoyaltyError

from . import selectors, services
from .models import Attempt, Delivery, Endpoint

CHANGE = "webhooks.change_endpoint"
RESEND = "webhooks.resend_delivery"


class EndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"), max_length=2000, assume_scheme="https", widget=forms.URLInput(attrs={"size": 80})
    )
    event_types_text = forms.CharField(
        label=_("Event types"),
        max_length=2000,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=_("Comma-separated: exact types (tier.upgraded), wildcards (tier.*), or * for every type."),
    )
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        max_length=100,
        help_text=_("Leave empty to have one made (recommended). Shown once, after saving."),
    )

    class Meta:
        model = Endpoint
        fields = ("url", "description", "include_personal_data")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["event_types_text"].initial = ", ".join(self.instance.event_types)
            del self.fields["secret"]

    def clean(self):
        """The service's own checks (it makes them again when saving), as errors on the fields."""
        data = super().clean()
        try:
            services.validate_endpoint(
                url=data.get("url") or "",
                event_types=data.get("event_types_text") or "",
                description=data.get("description") or "",
                secret=data.get("secret") or None,
            )
        except LoyaltyError as error:
            for field, problems in error.fields.items():
                name = {"event_types": "event_types_text"}.get(field, field)
                self.add_error(name if name in self.fields else None, problems)
        return data


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ("__str__", "url", "status_shown", "types_shown", "success_rate", "latency", "backlog")
    list_filter = ("status",)
    search_fields = ("url", "description")
    readonly_fields = (
        "status_shown",
        "status_changed_at",
        "failing_since",
        "last_failure_at",
        "created_at",
        "created_by",
        "health",
    )
    change_form_template = "admin/webhooks/endpoint/change_form.html"

    def get_fields(self, request, obj=None):
        editable = ["url", "description", "event_types_text", "include_personal_data"]
        if obj is None:
            return [*editable, "secret"]
        return [*editable, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_changelist_instance(self, request):
        """The page's endpoints' health in one go, kept on each endpoint object (this admin serves
        every request: nothing per request may be kept on it)."""
        changelist = super().get_changelist_instance(request)
        health = selectors.health([endpoint.pk for endpoint in changelist.result_list])
        for endpoint in changelist.result_list:
            endpoint.health_figures = health[endpoint.pk]
        return changelist

    def _health_of(self, endpoint) -> selectors.Health:
        if not hasattr(endpoint, "health_figures"):
            endpoint.health_figures = selectors.health([endpoint.pk])[endpoint.pk]
        return endpoint.health_figures

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, endpoint):
        if endpoint.status_reason and endpoint.status != Endpoint.Status.ACTIVE:
            return f"{endpoint.get_status_display()} ({endpoint.get_status_reason_display()})"
        return endpoint.get_status_display()

    @admin.display(description=_("event types"))
    def types_shown(self, endpoint):
        return ", ".join(endpoint.event_types)

    @admin.display(description=_("success (24 h)"))
    def success_rate(self, endpoint):
        rate = self._health_of(endpoint).success_rate
        return "—" if rate is None else f"{rate:.1%}"

    @admin.display(description=_("latency (24 h)"))
    def latency(self, endpoint):
        health = self._health_of(endpoint)
        if health.mean_ms is None:
            return "—"
        return _("%(mean)d ms mean, %(p95)d ms p95") % {"mean": health.mean_ms, "p95": health.p95_ms or 0}

    @admin.display(description=_("backlog"))
    def backlog(self, endpoint):
        return f"{self._health_of(endpoint).backlog:,}"

    @admin.display(description=_("health (last 24 hours)"))
    def health(self, endpoint):
        health = self._health_of(endpoint)
        deliveries = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html(
            "{}: {} · {}: {} · {}: {} · {}: <a href='{}'>{}</a> · {}: <a href='{}&status__exact=failed'>{}</a>",
            _("attempts"),
            f"{health.attempts:,}",
            _("success rate"),
            self.success_rate(endpoint),
            _("latency"),
            self.latency(endpoint),
            _("waiting"),
            deliveries + "&status__exact=pending",
            f"{health.backlog:,}",
            _("failed"),
            deliveries,
            f"{health.failed:,}",
        )

    def save_model(self, request, obj, form, change):
        types = form.cleaned_data["event_types_text"]
        if change:
            services.change_endpoint(
                endpoint=obj,
                url=obj.url,
                event_types=types,
                description=obj.description,
                include_personal_data=obj.include_personal_data,
                actor=request.user,
            )
        else:
            made, secret = services.create_endpoint(
                url=obj.url,
                event_types=types,
                description=obj.description,
                secret=form.cleaned_data.get("secret") or None,
                include_personal_data=obj.include_personal_data,
                actor=request.user,
            )
            obj.pk = made.pk
            request._webhook_secret = secret  # for response_add: shown once, never stored in a message

    def response_add(self, request, obj, post_url_continue=None):
        return self._secret_page(request, obj, request._webhook_secret, created=True)

    def _secret_page(self, request, endpoint, secret: str, *, created: bool):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Signing secret"),
            "endpoint": endpoint,
            "secret": secret,
            "created": created,
        }
        return TemplateResponse(request, "admin/webhooks/endpoint/secret.html", context)

    def get_urls(self):
        def view(function, name):
            return path(
                f"<int:endpoint_id>/{name}/", self.admin_site.admin_view(function), name=f"webhooks_endpoint_{name}"
            )

        return [
            view(self.rotate_view, "rotate"),
            view(self.pause_view, "pause"),
            view(self.resume_view, "resume"),
            view(self.disable_view, "disable"),
            view(self.test_view, "test"),
            view(self.replay_view, "replay"),
            *super().get_urls(),
        ]

    def _acted_on(self, request, endpoint_id, permission):
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return get_object_or_404(Endpoint, pk=endpoint_id)

    def _back(self, endpoint_id):
        return HttpResponseRedirect(reverse("admin:webhooks_endpoint_change", args=[endpoint_id]))

    def rotate_view(self, request, endpoint_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint = self._acted_on(request, endpoint_id, CHANGE)
        secret = services.rotate_secret(endpoint=endpoint, actor=request.user)
        return self._secret_page(request, endpoint, secret, created=False)

    def pause_view(self, request, endpoint_id):
        done = _("The endpoint is paused: deliveries wait.")
        return self._status(request, endpoint_id, services.pause_endpoint, done)

    def resume_view(self, request, endpoint_id):
        return self._status(
            request, endpoint_id, services.resume_endpoint, _("The endpoint is active: waiting deliveries go now.")
        )

    def disable_view(self, request, endpoint_id):
        done = _("The endpoint is disabled: no new deliveries.")
        return self._status(request, endpoint_id, services.disable_endpoint, done)

    def _status(self, request, endpoint_id, change, done):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        change(endpoint=self._acted_on(request, endpoint_id, CHANGE), actor=request.user)
        self.message_user(request, done)
        return self._back(endpoint_id)

    def test_view(self, request, endpoint_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        endpoint = self._acted_on(request, endpoint_id, CHANGE)
        try:
            delivery = services.send_test_event(endpoint=endpoint, actor=request.user)
        except LoyaltyError as error:
            self.message_user(request, error.message, messages.ERROR)
            return self._back(endpoint_id)
        link = reverse("admin:webhooks_delivery_change", args=[delivery.pk])
        self.message_user(
            request, format_html('{} <a href="{}">{}</a>', _("A test event is on its way."), link, _("Follow it"))
        )
        return self._back(endpoint_id)

    def replay_view(self, request, endpoint_id):
        if not request.user.has_perm(RESEND):
            raise PermissionDenied
        endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
        form = ReplayForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            count = services.replay_deliveries(
                endpoint=endpoint,
                since=form.cleaned_data["since"],
                only_failed=form.cleaned_data["which"] == "failed",
                actor=request.user,
            )
            self.message_user(
                request,
                ngettext("%(n)d delivery will be sent again.", "%(n)d deliveries will be sent again.", count)
                % {"n": count},
            )
            return self._back(endpoint_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Replay deliveries"),
            "endpoint": endpoint,
            "form": form,
        }
        return TemplateResponse(request, "admin/webhooks/endpoint/replay.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["may_change"] = request.user.has_perm(CHANGE)
        context["may_resend"] = request.user.has_perm(RESEND)
        context["overlap_hours"] = settings.WEBHOOK_SECRET_OVERLAP_HOURS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # disable instead: the deliveries and their log stay


class ReplayForm(forms.Form):
    since = forms.SplitDateTimeField(
        label=_("Made since"),
        widget=AdminSplitDateTime,
        help_text=_("In the program's time zone."),
    )
    which = forms.ChoiceField(
        label=_("Which"),
        choices=[("failed", _("Only the failed deliveries")), ("all", _("Every delivery (delivered ones too)"))],
        initial="failed",
        widget=forms.RadioSelect,
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now():
            raise forms.ValidationError(_("The moment is in the future."))
        return since


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("attempted_at", "status_code", "duration_ms", "error", "error_detail", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("webhooks.view_delivery")  # the attempts are part of the delivery

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
    )
    list_filter = ("status", "endpoint")
    search_fields = ("event_id",)
    search_help_text = _("An event id (the webhook-id header), exactly.")
    list_select_related = ("endpoint",)
    fields = (
        "event_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
        "created_at",
        "body_shown",
    )
    readonly_fields = fields
    inlines = (AttemptInline,)
    actions = ("resend",)

    def get_search_results(self, request, queryset, search_term):
        try:
            uuid.UUID(search_term.strip())
        except ValueError:
            return (queryset.none(), False) if search_term.strip() else (queryset, False)
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("body (as signed)"))
    def body_shown(self, delivery):
        return format_html("<pre>{}</pre>", json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False))

    @admin.action(description=_("Resend the selected deliveries now"), permissions=["resend"])
    def resend(self, request, queryset):
        for delivery in queryset:
            services.resend_delivery(delivery=delivery, actor=request.user)
        self.message_user(
            request,
            ngettext("%(n)d delivery will be sent again.", "%(n)d deliveries will be sent again.", queryset.count())
            % {"n": queryset.count()},
        )

    def has_resend_permission(self, request):
        return request.user.has_perm(RESEND)
