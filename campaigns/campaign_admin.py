"""Campaigns in the admin: the list with each campaign's phase and window, the editor (name, holdout,
terms as JSON checked as the service checks them), the versions, and the lifecycle actions —
publish, pause, resume, end, clone — through campaigns.services.campaigns."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.config import current_config
from members.errors import LoyaltyError

from . import terms as campaign_terms
from .models import Campaign, CampaignVersion
from .services import campaigns as services


class CampaignForm(forms.ModelForm):
    """The campaign's own fields and its terms (JSON), checked as save_campaign checks them."""

    terms = forms.JSONField(
        label=capfirst(gettext_lazy("terms")),  # as Django writes the model fields' labels
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "class": "definition-editor", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "Event types, multipliers or bonus, trigger, reward, audience, budget and window: see docs/campaigns.md."
        ),
    )

    class Meta:
        model = Campaign
        fields = ("code", "name", "description", "kind", "public", "holdout_percent")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk and "code" in self.fields:  # not in the read-only view
            self.fields["code"].disabled = self.fields["kind"].disabled = True
            self.fields["terms"].initial = self.instance.current.terms
            if self.instance.status != Campaign.Status.DRAFT:
                self.fields["holdout_percent"].disabled = True

    def clean_terms(self):
        terms = self.cleaned_data["terms"]
        kind = self.cleaned_data.get("kind") or self.instance.kind
        published = bool(self.instance.pk) and self.instance.status != Campaign.Status.DRAFT
        try:
            canonical = services.check_terms(kind, terms, pinning=published).as_json()
        except LoyaltyError as error:
            raise forms.ValidationError([f"{field}: {m}" for field, ms in error.fields.items() for m in ms]) from None
        if published and canonical != self.instance.current.terms and not self.user.has_perm(services.PUBLISH):
            raise forms.ValidationError(_("Only someone who may publish campaigns changes a published one's terms."))
        return canonical


class VersionInline(admin.TabularInline):
    model = CampaignVersion
    fields = ("number", "terms_text", "segment_version", "published_at", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("versions")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("terms"))
    def terms_text(self, version):
        return json.dumps(version.terms, ensure_ascii=False)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("code", "name_column", "kind", "phase", "window", "version", "holdout_percent", "public")
    list_filter = ("kind", "status", "public")
    search_fields = ("code", "name")
    list_select_related = ("current_version",)
    inlines = (VersionInline,)
    actions = ("publish", "pause", "resume", "end", "clone")

    def has_delete_permission(self, request, obj=None):
        return False  # grants will point at campaigns; end one instead

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()  # a new campaign has no versions yet

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class WithUser(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=request.user, **inner)

        return WithUser

    def save_model(self, request, obj, form, change):
        """Through the service (the form checked what it checks; it checks again, permissions too)."""
        data = form.cleaned_data
        saved = services.save_campaign(
            code=obj.code,
            name=data["name"],
            description=data["description"],
            kind=obj.kind,
            terms=data["terms"],
            public=data["public"],
            holdout_percent=obj.holdout_percent,
            actor=request.user,
        )
        obj.pk, obj.current_version = saved.pk, saved.current_version

    def has_change_permission(self, request, obj=None):
        """An ended campaign is read only (clone it to run it again)."""
        if obj is not None and obj.status == Campaign.Status.ENDED:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=gettext_lazy("terms"))
    def terms(self, campaign):
        """The terms in force, for the read-only view (an ended campaign, a viewer)."""
        return json.dumps(campaign.current.terms, ensure_ascii=False, indent=1)

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def name_column(self, campaign):
        return str(campaign)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def phase(self, campaign):
        return Campaign.Phase(campaign.phase_at(timezone.now())).label

    @admin.display(description=gettext_lazy("window"))
    def window(self, campaign):
        terms = campaign_terms.parse_terms(campaign.kind, campaign.current.terms)
        zone = current_config().settings.zone
        shown = [
            date_format(moment.astimezone(zone), "SHORT_DATETIME_FORMAT") if moment else "…"
            for moment in (terms.starts_at, terms.ends_at)
        ]
        return " – ".join(shown)

    @admin.display(description=gettext_lazy("version"))
    def version(self, campaign):
        return campaign.current.number

    def has_publish_permission(self, request):
        return request.user.has_perm(services.PUBLISH)

    def _each(self, request, queryset, move, done: str) -> None:
        for campaign in queryset:
            try:
                move(code=campaign.code, actor=request.user)
            except LoyaltyError as error:
                self.message_user(request, f"{campaign.code}: {error.message}", messages.WARNING)
            else:
                self.message_user(request, done % {"campaign": campaign})

    @admin.action(description=gettext_lazy("Publish the selected campaigns"), permissions=["publish"])
    def publish(self, request, queryset):
        self._each(request, queryset, services.publish_campaign, _("%(campaign)s published."))

    @admin.action(description=gettext_lazy("Pause the selected campaigns"), permissions=["publish"])
    def pause(self, request, queryset):
        self._each(request, queryset, services.pause_campaign, _("%(campaign)s paused."))

    @admin.action(description=gettext_lazy("Resume the selected campaigns"), permissions=["publish"])
    def resume(self, request, queryset):
        self._each(request, queryset, services.resume_campaign, _("%(campaign)s resumed."))

    @admin.action(description=gettext_lazy("End the selected campaigns"), permissions=["publish"])
    def end(self, request, queryset):
        self._each(request, queryset, services.end_campaign, _("%(campaign)s ended."))

    @admin.action(description=gettext_lazy("Clone the selected campaigns as drafts"), permissions=["add"])
    def clone(self, request, queryset):
        for campaign in queryset:
            new_code = _free_code(f"{campaign.code}-copy")
            try:
                services.clone_campaign(code=campaign.code, new_code=new_code, actor=request.user)
            except LoyaltyError as error:
                self.message_user(request, f"{campaign.code}: {error.message}", messages.WARNING)
            else:
                self.message_user(
                    request, _("%(campaign)s cloned as %(code)s.") % {"campaign": campaign, "code": new_code}
                )


def _free_code(base: str) -> str:
    """`base`, or base-2, base-3 … whichever no campaign has."""
    taken = set(Campaign.objects.filter(code__startswith=base).values_list("code", flat=True))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)
