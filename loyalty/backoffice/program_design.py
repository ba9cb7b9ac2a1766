"""The "Program design" section of the admin: one page per program design report with its chart,
its form and a CSV download. Every view needs a staff user with VIEW_PERMISSION (checked on every
request, CSV included); the pages only read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.analytics import calibration, csv_export, forecast, report
from loyalty.analytics.report import ReportOptions
from loyalty.analytics.selectors.sql import report_transaction
from loyalty.config import current_config
from loyalty.names import display_name

# Program design reads the whole program and every member's figures in aggregate: whoever may view
# the program settings may see it.
VIEW_PERMISSION = "loyalty.view_programsettings"


class DistributionForm(forms.Form):
    top_share = forms.DecimalField(
        label=gettext_lazy("Target share of the top three tiers (%)"), min_value=0, max_value=100, initial=20
    )
    tolerance = forms.DecimalField(label=gettext_lazy("Tolerance (percentage points)"), min_value=0, initial=5)


class CalibrationForm(forms.Form):
    targets = forms.CharField(label=gettext_lazy("Target share per tier (%), lowest tier first"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = calibration.targets_text(calibration.default_targets(len(current_config().ladder)))
        self.fields["targets"].help_text = _(
            "The default, %(default)s, gives each tier about 0.6 of the share of the tier below."
        ) % {"default": default}

    def clean_targets(self):
        try:
            return calibration.parse_targets(self.cleaned_data["targets"], len(current_config().ladder))
        except calibration.TargetError as error:
            raise forms.ValidationError(str(error)) from error


class RFMForm(forms.Form):
    window_days = forms.IntegerField(label=gettext_lazy("Window (days)"), min_value=1, max_value=3660, initial=365)
    cut_frequency = forms.DecimalField(
        label=gettext_lazy("High frequency: more purchases than"), required=False, min_value=0
    )
    cut_monetary = forms.DecimalField(label=gettext_lazy("High spend: more than"), required=False, min_value=0)

    def clean(self):
        data = super().clean()
        if (data.get("cut_frequency") is None) != (data.get("cut_monetary") is None):
            raise forms.ValidationError(_("Give both cut values, or neither to cut at the medians."))
        return data


class WeightsForm(forms.Form):
    days = forms.IntegerField(label=gettext_lazy("Period (days up to today)"), min_value=1, max_value=3660, initial=90)


class PersonaForm(forms.Form):
    """One persona: spend a day and times a day per task event type (empty = none)."""

    daily_spend = forms.DecimalField(label=gettext_lazy("Spend a day"), min_value=0, decimal_places=2)

    def __init__(self, *args, event_types: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.event_types = event_types
        for code in event_types:
            self.fields[code] = forms.IntegerField(label=code, min_value=0, max_value=1000, initial=0, required=False)

    def persona(self, name: str) -> forecast.Persona:
        events = {code: self.cleaned_data[code] for code in self.event_types if self.cleaned_data[code]}
        return forecast.Persona(self.cleaned_data["daily_spend"], events, name)


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    template: str
    summary: str = ""  # one line on the index


def _pages() -> list[Page]:
    return [
        Page(
            "distribution",
            _("Tier distribution"),
            "admin/program_design/distribution.html",
            _("Is the pyramid healthy: members per tier, and what is out of shape."),
        ),
        Page(
            "calibration",
            _("Threshold calibration"),
            "admin/program_design/calibration.html",
            _("Which thresholds would give each tier the share of members you want."),
        ),
        Page(
            "rfm",
            _("RFM quadrants"),
            "admin/program_design/rfm.html",
            _("Who buys how much and how often, and which tiers they hold."),
        ),
        Page(
            "weights",
            _("Weight completion by tier"),
            "admin/program_design/weights.html",
            _("Which earning rules each tier completes."),
        ),
        Page(
            "forecast",
            _("Time to tier"),
            "admin/program_design/forecast.html",
            _("How long the climb to each tier takes, forecast and observed."),
        ),
        Page(
            "economics",
            _("Points economics"),
            "admin/program_design/economics.html",
            _("What the points cost: liability, breakage, value per point, benefits against spend."),
        ),
    ]


def urls(site) -> list:
    def guarded(view):
        return site.admin_view(lambda request, **kwargs: _check(request) or view(site, request, **kwargs))

    return [
        path("program-design/", guarded(index), name="program_design"),
        path("program-design/<slug:slug>/", guarded(report_page), name="program_design_report"),
        path("program-design/<slug:slug>.csv", guarded(report_csv), name="program_design_csv"),
    ]


def _check(request) -> None:
    """admin_view already requires an active staff user; the report needs the view permission too."""
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied


def index(site, request):
    context = {**site.each_context(request), "title": _("Program design"), "pages": _pages()}
    return TemplateResponse(request, "admin/program_design/index.html", context)


def report_page(site, request, slug: str):
    page = _page(slug)
    context = {**site.each_context(request), "title": page.title, "page": page, "pages": _pages()}
    with report_transaction():
        context.update(BUILDERS[slug](request))
    context["csv_url"] = reverse("admin:program_design_csv", args=[slug]) + (
        "?" + request.GET.urlencode() if request.GET else ""
    )
    return TemplateResponse(request, page.template, context)


def report_csv(site, request, slug: str):
    if slug not in CSV:
        raise Http404
    page_slug, write = CSV[slug]
    with report_transaction():
        text = write(BUILDERS[page_slug](request)["report"])
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="program-design-{slug}.csv"'
    return response


def _page(slug: str) -> Page:
    page = next((page for page in _pages() if page.slug == slug), None)
    if page is None:
        raise Http404
    return page


def _form(form_class, request, **kwargs):
    """Bound to the query string when it has any of the form's fields, so every result has a URL."""
    bound = any(name in request.GET for name in form_class.base_fields)
    return form_class(request.GET if bound else None, **kwargs)


def _distribution(request) -> dict:
    form = _form(DistributionForm, request)
    options = ReportOptions()
    if form.is_valid():
        options = ReportOptions(
            top_share_target=form.cleaned_data["top_share"] / 100,
            top_share_tolerance=form.cleaned_data["tolerance"] / 100,
        )
    result = report.distribution_report(options)
    chart = {"tiers": [{"name": t.name, "members": t.members} for t in result.tiers]}
    return {"form": form, "report": result, "chart": chart}


def _calibration(request) -> dict:
    form = _form(CalibrationForm, request)
    ladder = current_config().ladder
    targets = form.cleaned_data["targets"] if form.is_valid() else None
    if not form.is_bound:
        form = CalibrationForm(initial={"targets": calibration.targets_text(calibration.default_targets(len(ladder)))})
    result = report.calibration_report(targets)
    whatif = (
        reverse("admin:loyalty_tier_whatif")
        + "?"
        + urlencode({f"threshold_{tier.code}": tier.proposed_threshold for tier in result.tiers})
    )
    chart = {
        "tiers": [name for _tier, name, _holding in result.rows],
        "target": [float(tier.target_share * 100) for tier in result.tiers],
        "current": [float(tier.current_share * 100) for tier in result.tiers],
        "proposed": [float(tier.proposed_share * 100) for tier in result.tiers],
        "labels": {"target": _("target %"), "current": _("qualifying now %"), "proposed": _("proposed %")},
    }
    return {"form": form, "report": result, "whatif_url": whatif, "chart": chart}


def _rfm(request) -> dict:
    form = _form(RFMForm, request)
    options = ReportOptions()
    if form.is_valid():
        options = ReportOptions(
            rfm_window_days=form.cleaned_data["window_days"],
            rfm_cut_frequency=form.cleaned_data["cut_frequency"],
            rfm_cut_monetary=form.cleaned_data["cut_monetary"],
        )
    result = report.rfm_report(options, timezone.now())
    chart = {"labels": [q.label for q in result.quadrants], "members": [q.members for q in result.quadrants]}
    return {"form": form, "report": result, "chart": chart, "tier_names": [t.name for t in current_config().ladder]}


def _weights(request) -> dict:
    form = _form(WeightsForm, request)
    days = form.cleaned_data["days"] if form.is_valid() else report.DEFAULT_WEIGHTS_DAYS
    result = report.weights_report(days, timezone.now())
    matrix = result.matrix
    rows = [
        {
            "code": code,
            "name": name,
            "members": members,
            "cells": [matrix.cells[(code, rule.code)] for rule in matrix.rules],
        }
        for code, name, members in matrix.tiers
    ]
    chart = {
        "rules": [display_name(rule.name) for rule in matrix.rules],
        "tiers": [
            {"name": name, "shares": [float(matrix.cells[(code, rule.code)].share * 100) for rule in matrix.rules]}
            for code, name, _members in matrix.tiers
        ],
    }
    return {"form": form, "report": result, "rows": rows, "chart": chart}


PERSONA_KEYS = ("a", "b", "c")


def _forecast(request) -> dict:
    config = current_config()
    defaults = forecast.default_personas(config.rules_by_event_type)
    event_types = sorted({code for persona in defaults for code in persona.events_per_day} | _task_types(config))
    forms_ = []
    personas = []
    for key, default in zip(PERSONA_KEYS, defaults, strict=True):
        bound = any(name.startswith(f"{key}-") for name in request.GET)
        initial = {"daily_spend": default.daily_spend, **default.events_per_day}
        form = PersonaForm(request.GET if bound else None, prefix=key, event_types=event_types, initial=initial)
        personas.append(form.persona(default.name) if bound and form.is_valid() else default)
        forms_.append((default.name, form))
    result = report.forecast_report(personas, timezone.now())
    codes = [tier.code for tier in config.ladder]
    chart = {
        "tiers": [tier.name for tier in config.ladder],
        "personas": [{"name": p.name, "days": [p.forecast["days_to_tier"][c] for c in codes]} for p in result.personas],
    }
    table = [
        {
            "code": code,
            "name": tier.name,
            "personas": [
                (p.forecast["days_to_tier"][code], p.forecast["spend_to_tier"][code]) for p in result.personas
            ],
            "observed": result.observed_median_days.get(code),
            "observed_members": result.observed_members.get(code),
        }
        for code, tier in zip(codes, config.ladder, strict=True)
    ]
    return {"persona_forms": forms_, "report": result, "table": table, "chart": chart}


def _task_types(config) -> set[str]:
    return {
        code
        for code, rules in config.rules_by_event_type.items()
        if code not in (forecast.PURCHASE, forecast.RETURN) and any(rule.growth for rule in rules)
    }


def _economics(request) -> dict:
    result = report.economics_report(timezone.now())
    chart = {
        "months": [f"{m.month:%Y-%m}" for m in result.months],
        "earned": [m.earned for m in result.months],
        "spent": [m.spent for m in result.months],
        "expired": [m.expired for m in result.months],
        "labels": {"earned": _("earned"), "spent": _("spent"), "expired": _("expired")},
    }
    return {"report": result, "chart": chart, "currency": current_config().settings.currency}


BUILDERS: dict[str, Callable[[HttpRequest], dict[str, Any]]] = {
    "distribution": _distribution,
    "calibration": _calibration,
    "rfm": _rfm,
    "weights": _weights,
    "forecast": _forecast,
    "economics": _economics,
}
# Download name -> (the page whose report it writes, the writer).
CSV: dict[str, tuple[str, Callable[[Any], str]]] = {
    "distribution": ("distribution", csv_export.distribution_csv),
    "calibration": ("calibration", csv_export.calibration_csv),
    "rfm": ("rfm", csv_export.rfm_csv),
    "weights": ("weights", csv_export.weights_csv),
    "forecast": ("forecast", csv_export.forecast_csv),
    "economics": ("economics", csv_export.economics_csv),
    "benefits": ("economics", csv_export.benefits_csv),
}
