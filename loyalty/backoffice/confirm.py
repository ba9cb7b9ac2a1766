"""A confirmation step for changelist actions that cannot be undone, like Django's own
`delete_selected`: the first POST shows what would change (and asks for a reason where the ledger
records one); only the second, with post=yes, calls the service."""

from __future__ import annotations

from django import forms
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy

LISTED = 200


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=200,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=gettext_lazy("Kept with the change and shown in the member's ledger."),
    )


def confirmed(request, *, with_reason: bool) -> tuple[bool, ReasonForm | None]:
    """Whether this POST is the confirmation (and, with a reason, a valid one), and the reason form."""
    form = ReasonForm(request.POST if request.POST.get("post") == "yes" else None) if with_reason else None
    if request.POST.get("post") != "yes":
        return False, form
    return (form.is_valid() if form is not None else True), form


def confirmation_page(modeladmin, request, queryset, *, action: str, title: str, question: str, button: str, form=None):
    count = queryset.count()
    queryset = queryset.select_related(*modeladmin.list_select_related)  # what each row's name reads
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "question": question,
        "button": button,
        "action": action,
        "form": form,
        "objects": queryset[:LISTED],
        "count": count,
        "more": max(count - LISTED, 0),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/backoffice/confirm_action.html", context)
