"""The tier ladder's thresholds with a what-if preview: who would move where, and the new pyramid,
before anything is saved. Saving goes through the program-file service, with its validation."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from loyalty.models import Tier
from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.selectors.tier_whatif import preview_thresholds
from loyalty.services.program import apply_program
from members.errors import LoyaltyError


class ThresholdsForm(forms.Form):
    def __init__(self, *args, tiers, initial_from=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tiers = tiers
        for tier in tiers:
            self.fields[tier.code] = forms.IntegerField(
                label=f"{tier.name} ({tier.code})",
                min_value=0,
                initial=_initial(initial_from, tier),
                widget=forms.NumberInput(attrs={"size": 10}),
            )

    def thresholds(self) -> dict[str, int]:
        return {tier.code: self.cleaned_data[tier.code] for tier in self.tiers}


def _initial(query, tier) -> int:
    """Thresholds can arrive in the URL (?threshold_gold=5000), e.g. from the calibration tool."""
    raw = (query or {}).get(f"threshold_{tier.code}")
    return int(raw) if raw and raw.isdigit() else tier.threshold


def whatif_view(model_admin, request):
    if not request.user.has_perm("loyalty.change_tier"):
        raise PermissionDenied
    tiers = list(Tier.objects.order_by("rank"))
    form = ThresholdsForm(request.POST or None, tiers=tiers, initial_from=request.GET)
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            # Preview and Apply check the ladder the same way, with the same words.
            document = parse_program({"tiers": _edited_tiers(form.thresholds())})
            if request.POST.get("step") == "apply":
                changes = apply_program(document=document, actor=request.user)
                messages.success(
                    request, _("Ladder saved: %(changes)s") % {"changes": "; ".join(changes) or _("no change")}
                )
                return redirect("admin:loyalty_tier_changelist")
        except LoyaltyError as error:
            for path, problems in error.fields.items():
                form.add_error(None, f"{path}: {' '.join(problems)}")
            if not error.fields:
                form.add_error(None, error.message)
        else:
            preview = preview_thresholds(thresholds=form.thresholds())
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Tier._meta,
        "title": _("Tier thresholds: what if?"),
        "form": form,
        "preview": preview,
        "chart": _chart(preview) if preview else None,
        "changed": preview is not None and any(form.thresholds()[t.code] != t.threshold for t in tiers),
    }
    return TemplateResponse(request, "admin/loyalty/tier/whatif.html", context)


def _chart(preview) -> dict:
    return {
        "tiers": [tier.name for tier, *_ in preview.pyramid],
        "now": [now for _, now, _, _ in preview.pyramid],
        "configured": [configured for _, _, configured, _ in preview.pyramid],
        "after": [edited for _, _, _, edited in preview.pyramid],
        "labels": {
            "now": _("Today"),
            "configured": _("Next recalculation, current ladder"),
            "after": _("Next recalculation, edited ladder"),
        },
    }


def _edited_tiers(thresholds: dict[str, int]) -> list[dict]:
    return [
        {**tier, "threshold": thresholds.get(tier["code"], tier["threshold"])} for tier in export_program()["tiers"]
    ]
