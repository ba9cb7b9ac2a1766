"""The approval queues: pending adjustments, and raises of the approval limits themselves, are
approved or rejected here by someone other than the person who asked, with the permission for it
(checked again by the service)."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.models import Adjustment, ApprovalLimitChange
from loyalty.services.adjustments import (
    approve_adjustments,
    approve_limit_change,
    reject_adjustments,
    reject_limit_change,
    request_limit_change,
)
from members.errors import LoyaltyError

from .confirm import confirmation_page


class PendingFirstFilter(admin.SimpleListFilter):
    """Opens on the queue of pending adjustments, the list approvers come for."""

    title = gettext_lazy("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*Adjustment.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or Adjustment.Status.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or Adjustment.Status.PENDING
        return queryset if value == "all" else queryset.filter(status=value)


class DecisionNoteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Decision note"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=gettext_lazy("Kept with the decision; the requester sees it."),
    )


def _decide(model_admin, request, queryset, service, done: str, *, action: str, question: str, button: str):
    """A confirmation page listing the adjustments, with room for the decision note; the second
    POST decides through the service."""
    confirming = request.POST.get("post") == "yes"
    form = DecisionNoteForm(request.POST if confirming else None)
    if not confirming or not form.is_valid():
        return confirmation_page(
            model_admin, request, queryset, action=action, title=button, question=question, button=button, form=form
        )
    try:
        decided = service(
            adjustment_ids=list(queryset.values_list("pk", flat=True)),
            approver=request.user,
            note=form.cleaned_data["note"],
        )
    except LoyaltyError as error:
        model_admin.message_user(request, error.message, messages.ERROR)
        return None
    model_admin.message_user(request, _("%(n)d adjustment(s) %(done)s.") % {"n": len(decided), "done": done})
    return None


@admin.action(description=gettext_lazy("Approve selected adjustments"), permissions=["approve"])
def approve(model_admin, request, queryset):
    return _decide(
        model_admin,
        request,
        queryset,
        approve_adjustments,
        _("approved and applied"),
        action="approve",
        question=_("Approve and apply these adjustments to the members' balances?"),
        button=_("Approve and apply"),
    )


@admin.action(description=gettext_lazy("Reject selected adjustments"), permissions=["approve"])
def reject(model_admin, request, queryset):
    return _decide(
        model_admin,
        request,
        queryset,
        reject_adjustments,
        _("rejected"),
        action="reject",
        question=_("Reject these adjustments? Nothing is applied."),
        button=_("Reject"),
    )


# --- approval limit changes -------------------------------------------------------------------------


class LimitChangeForm(forms.ModelForm):
    class Meta:
        model = ApprovalLimitChange
        fields = ("kind", "new_limit", "note")

    def __init__(self, *args, requester=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.requester = requester

    def clean(self):
        """The service decides (and checks everything again); its refusal is shown on the form."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            with transaction.atomic():
                self.change = request_limit_change(
                    kind=cleaned["kind"],
                    limit=cleaned["new_limit"],
                    note=cleaned.get("note", ""),
                    requested_by=self.requester,
                )
        except LoyaltyError as error:
            for name, problems in error.fields.items():
                for problem in problems:
                    self.add_error(name if name in self.fields else None, problem)
            if not error.fields:
                self.add_error(None, error.message)
        return cleaned

    def save(self, commit=True):
        return self.change


@admin.action(description=gettext_lazy("Approve selected limit changes"), permissions=["change_limits"])
def approve_limit_changes(model_admin, request, queryset):
    _decide_limits(model_admin, request, queryset, approve_limit_change, _("approved and applied"))


@admin.action(description=gettext_lazy("Reject selected limit changes"), permissions=["change_limits"])
def reject_limit_changes(model_admin, request, queryset):
    _decide_limits(model_admin, request, queryset, reject_limit_change, _("rejected"))


def _decide_limits(model_admin, request, queryset, service, done: str):
    decided = 0
    for change_id in queryset.values_list("pk", flat=True):
        try:
            service(change_id=change_id, approver=request.user)
            decided += 1
        except LoyaltyError as error:
            model_admin.message_user(request, error.message, messages.ERROR)
    if decided:
        model_admin.message_user(request, _("%(n)d limit change(s) %(done)s.") % {"n": decided, "done": done})
