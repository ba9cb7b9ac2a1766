"""Campaigns in the admin: the list with each campaign's phase, window and budget burn-down, the
editor (name, holdout, terms as JSON checked as the service checks them) with the audience's size
and the cost forecast, the budgets, the uplift report against the holdout, the versions and the
grants; and the lifecycle actions — publish (with approval above the limit), approve, decline,
pause, resume, end, clone — through campaigns.services.campaigns."""

from __future__ import annotations

import json
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.admin import ReadOnlyAdmin
from loyalty.config import current_config
from members.errors import LoyaltyError

from . import terms as campaign_terms
from . import uplift
from .earning import CAMPAIGN_WIDE, period_start
from .forecast import forecast_campaign
from .grants import in_audience
from .models import BudgetCounter, Campaign, CampaignGrant, CampaignVersion
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
    list_display = ("code", "name_column", "kind", "phase", "window", "burn_down", "holdout_percent", "public")
    list_filter = ("kind", "status", "public")
    search_fields = ("code", "name")
    list_select_related = ("current_version",)
    inlines = (VersionInline,)
    actions = ("publish", "approve", "decline", "pause", "resume", "end", "clone")
    performance = ("audience_size", "forecast_panel", "budget_panel", "uplift_panel", "grants_link")

    def get_fieldsets(self, request, obj=None):
        own = (None, {"fields": ("code", "name", "description", "kind", "public", "holdout_percent", "terms")})
        if obj is None:
            return [own]
        return [own, (_("Audience, cost and results"), {"fields": self.performance})]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields + self.performance if obj is not None else fields

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

    @admin.display(description=gettext_lazy("budget used"))
    def burn_down(self, campaign):
        """The campaign-wide limits' use in the current period, as a bar and figures."""
        shown = [
            format_html(
                '<meter min="0" max="{}" value="{}"></meter> {} / {} {}',
                limit,
                used,
                number_format(used, force_grouping=True),
                number_format(limit, force_grouping=True),
                BudgetCounter.Budget(name).label.lower(),
            )
            for name, used, limit in _campaign_wide_use(campaign)
        ]
        return format_html("<br>".join(["{}"] * len(shown)), *shown) if shown else "—"

    @admin.display(description=gettext_lazy("audience now"))
    def audience_size(self, campaign):
        from members.models import Member

        count = in_audience(Member.objects.all(), campaign, at=timezone.now()).count()
        return _("%(count)s members") % {"count": number_format(count, force_grouping=True)}

    @admin.display(description=gettext_lazy("cost forecast"))
    def forecast_panel(self, campaign):
        """The forecast made when publishing was asked for; for a draft, made now."""
        stored = campaign.current.forecast
        forecast = stored if stored is not None else forecast_campaign(campaign, now=timezone.now()).as_json()
        cost = sum((Decimal(forecast[key]) for key in ("points_cost", "coupons_cost")), Decimal(0))
        currency = current_config().settings.currency
        return render_to_string(
            "admin/campaigns/campaign/forecast.html",
            {"forecast": forecast, "cost": f"{number_format(cost, 2, force_grouping=True)} {currency}"},
        )

    @admin.display(description=gettext_lazy("budgets"))
    def budget_panel(self, campaign):
        limits = campaign_terms.parse_terms(campaign.kind, campaign.current.terms).budget.limits()
        if not limits:
            return _("No budget.")
        used = {name: (u, cap) for name, u, cap in _campaign_wide_use(campaign)}
        lines = []
        for name, limit in sorted(limits.items()):
            label = BudgetCounter.Budget(name).label
            per = _PERIOD_LABELS[limit.per]
            if name in used:
                lines.append(f"{label}: {used[name][0]:,} / {limit.amount:,} {per}")
            elif name.startswith("per_member"):
                lines.append(f"{label}: {limit.amount:,} {per}")
            else:
                lines.append(f"{label}: 0 / {limit.amount:,} {per}")
        return format_html("<br>".join(["{}"] * len(lines)), *lines)

    @admin.display(description=gettext_lazy("uplift against the holdout"))
    def uplift_panel(self, campaign):
        if campaign.holdout_percent == 0:
            return _("No holdout: set one before publishing to measure the campaign.")
        report = uplift.uplift_report(campaign, now=timezone.now())
        if report is None:
            return _("Not launched yet.")
        return render_to_string("admin/campaigns/campaign/uplift.html", _uplift_context(report))

    @admin.display(description=gettext_lazy("grants"))
    def grants_link(self, campaign):
        count = CampaignGrant.objects.filter(campaign=campaign).count()
        url = (
            reverse("admin:campaigns_campaigngrant_changelist") + "?" + urlencode({"campaign__id__exact": campaign.pk})
        )
        links = [format_html('<a href="{}">{}</a>', url, _("%(count)s grants") % {"count": count})]
        if campaign.kind == Campaign.Kind.GRANT:
            runs = reverse("admin:loyalty_jobrun_changelist") + "?" + urlencode({"job": "campaign_grants"})
            links.append(format_html('<a href="{}">{}</a>', runs, _("The grant job's runs and dry runs")))
        return format_html(" · ".join(["{}"] * len(links)), *links)

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

    @admin.action(description=gettext_lazy("Approve the selected campaigns (second person)"), permissions=["publish"])
    def approve(self, request, queryset):
        self._each(request, queryset, services.approve_campaign, _("%(campaign)s approved and published."))

    @admin.action(description=gettext_lazy("Decline the selected campaigns (back to draft)"), permissions=["publish"])
    def decline(self, request, queryset):
        self._each(request, queryset, services.decline_campaign, _("%(campaign)s declined: a draft again."))

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


_PERIOD_LABELS = {
    "day": gettext_lazy("a day"),
    "week": gettext_lazy("a week"),
    "month": gettext_lazy("a month"),
    "total": gettext_lazy("in total"),
}


def _campaign_wide_use(campaign: Campaign) -> list[tuple[str, int, int]]:
    """(budget name, used, limit) of each campaign-wide limit in its current period."""
    limits = campaign_terms.parse_terms(campaign.kind, campaign.current.terms).budget.limits()
    today = timezone.localtime(timezone.now(), current_config().settings.zone).date()
    wide = {name: limit for name, limit in limits.items() if not name.startswith("per_member")}
    if not wide:
        return []
    counters = BudgetCounter.objects.filter(campaign=campaign, member_id=CAMPAIGN_WIDE, budget__in=wide)
    used = {(c.budget, c.period_start): c.used for c in counters}
    return [
        (name, used.get((name, period_start(today, limit.per)), 0), limit.amount)
        for name, limit in sorted(wide.items())
    ]


def _percent(value: float) -> str:
    return f"{value:.1%}"


def _money(value: float) -> str:
    return number_format(round(value, 2), 2, force_grouping=True)


def _uplift_context(report: uplift.Uplift) -> dict:
    zone = current_config().settings.zone
    verdicts = {
        uplift.INCONCLUSIVE: _("Inconclusive: too few members to tell yet."),
        uplift.POSITIVE: _("Positive: treated members spend more."),
        uplift.NEGATIVE: _("Negative: treated members spend less."),
        uplift.NO_EFFECT: _("No detectable effect on spend."),
    }
    biggest = max(report.treated.spend, report.held_out.spend, 1e-9)
    bars = []
    for n, (label, value, colour) in enumerate(
        ((_("Treated"), report.treated.spend, "#417690"), (_("Held out"), report.held_out.spend, "#9aa5b1"))
    ):
        width = int(200 * max(value, 0) / biggest)
        bars.append(
            {
                "label": label,
                "y": 4 + n * 26,
                "width": width,
                "text_x": 116 + width,
                "value": _money(value),
                "colour": colour,
            }
        )

    def interval(difference: uplift.Difference, shown) -> str:
        return f"{shown(difference.estimate)} ({shown(difference.low)} … {shown(difference.high)})"

    return {
        "report": report,
        "verdict_label": verdicts[report.verdict],
        "starts": date_format(report.starts.astimezone(zone), "SHORT_DATETIME_FORMAT"),
        "ends": date_format(report.ends.astimezone(zone), "SHORT_DATETIME_FORMAT"),
        "bars": bars,
        "chart_height": 8 + 26 * len(bars),
        "treated_rate": _percent(report.treated.purchase_rate),
        "held_rate": _percent(report.held_out.purchase_rate),
        "rate_difference": interval(report.purchase_rate, _percent),
        "treated_spend": _money(report.treated.spend),
        "held_spend": _money(report.held_out.spend),
        "spend_difference": interval(report.spend, _money),
        "treated_points": _money(report.treated.points),
        "per_point": _money(report.spend_per_point) if report.spend_per_point is not None else "—",
    }


@admin.register(CampaignGrant)
class CampaignGrantAdmin(ReadOnlyAdmin):
    """What each campaign gave, to whom, for what: ghosts (held-out members) included."""

    list_display = (
        "campaign",
        "member",
        "occurrence",
        "event",
        "held_out",
        "desired_points",
        "points",
        "growth",
        "points_released",
        "coupon",
        "granted_at",
    )
    list_filter = ("campaign", "held_out")
    list_select_related = ("campaign", "member", "event", "coupon")
    search_fields = ("member__external_id", "occurrence")
    fields = list_display

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("campaigns.view_campaign")


def _free_code(base: str) -> str:
    """`base`, or base-2, base-3 … whichever no campaign has."""
    taken = set(Campaign.objects.filter(code__startswith=base).values_list("code", flat=True))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)
