"""The approval queue: pending adjustments are approved or rejected here, by someone other than the
person who asked, with the approve permission (checked again by the service)."""

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.errors import LoyaltyError
from loyalty.models import Adjustment
from loyalty.services.adjustments import approve_adjustments, reject_adjustments


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


def _decide(model_admin, request, queryset, service, done: str):
    try:
        decided = service(adjustment_ids=list(queryset.values_list("pk", flat=True)), approver=request.user)
    except LoyaltyError as error:
        model_admin.message_user(request, error.message, messages.ERROR)
        return
    model_admin.message_user(request, _("%(n)d adjustment(s) %(done)s.") % {"n": len(decided), "done": done})


@admin.action(description=gettext_lazy("Approve selected adjustments"), permissions=["approve"])
def approve(model_admin, request, queryset):
    _decide(model_admin, request, queryset, approve_adjustments, _("approved and applied"))


@admin.action(description=gettext_lazy("Reject selected adjustments"), permissions=["approve"])
def reject(model_admin, request, queryset):
    _decide(model_admin, request, queryset, reject_adjustments, _("rejected"))
