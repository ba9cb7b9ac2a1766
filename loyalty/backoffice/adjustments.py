"""Adjusting points or growth from the admin: for one member from their page, or for many as a
changelist action with a confirmation step. Every path ends in services.adjustments."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.models import Adjustment, AdjustmentReason, ProgramSettings
from loyalty.services.adjustments import (
    MAX_ADJUSTMENT,
    MAX_MEMBERS_PER_REQUEST,
    PERMISSION_FOR_KIND,
    approval_limit,
    request_adjustments,
    would_need_approval,
)
from members.errors import LoyaltyError
from members.models import Member

LISTED_MEMBERS = 200


class AdjustmentForm(forms.Form):
    amount = forms.IntegerField(
        label=gettext_lazy("Amount"),
        min_value=-MAX_ADJUSTMENT,
        max_value=MAX_ADJUSTMENT,
        help_text=gettext_lazy("Positive adds, negative takes away; at most 1,000,000,000 either way."),
    )
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=[("", "---------"), *AdjustmentReason.choices])
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=gettext_lazy("Shown in the ledger with the reason; required for 'Other'."),
    )
    expires_on = forms.DateField(
        label=gettext_lazy("Points expire on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Added points only: the end of this day. Empty: the program's expiry rule."),
    )

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind != Adjustment.Kind.POINTS:
            del self.fields["expires_on"]

    def points_expire_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.combine(day, time.max, tzinfo=ProgramSettings.current().zone)

    def submit(self, *, members, user) -> list[Adjustment] | None:
        """Ask the service; its refusals become form errors and nothing is written."""
        try:
            return request_adjustments(
                members=members,
                kind=self.kind,
                amount=self.cleaned_data["amount"],
                reason=self.cleaned_data["reason"],
                note=self.cleaned_data["note"],
                points_expire_at=self.points_expire_at(),
                requested_by=user,
            )
        except LoyaltyError as error:
            field_names = {"points_expire_at": "expires_on"}
            placed = False
            for name, problems in error.fields.items():
                name = field_names.get(name, name)
                if name in self.fields:
                    for problem in problems:
                        self.add_error(name, problem)
                    placed = True
            if not placed:
                self.add_error(None, error.message)
            return None


def _check_permission(request, kind: str) -> None:
    if kind not in Adjustment.Kind.values or not request.user.has_perm(PERMISSION_FOR_KIND[kind]):
        raise PermissionDenied


def report(request, adjustments: list[Adjustment]) -> None:
    first = adjustments[0]
    what = f"{first.amount:+,} {first.get_kind_display().lower()}"
    if first.status == Adjustment.Status.PENDING:
        messages.warning(
            request,
            _(
                "%(what)s for %(n)d member(s) is above the approval limit (counting what you applied to the "
                "same member in the last 24 hours) and waits for approval by someone else."
            )
            % {"what": what, "n": len(adjustments)},
        )
    else:
        messages.success(request, _("%(what)s applied to %(n)d member(s).") % {"what": what, "n": len(adjustments)})


def adjust_member_view(model_admin, request, member_id: int, kind: str):
    _check_permission(request, kind)
    member = get_object_or_404(Member.objects.select_related("tier"), pk=member_id)
    form = AdjustmentForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        adjustments = form.submit(members=[member], user=request.user)
        if adjustments:
            report(request, adjustments)
            return redirect(reverse("admin:members_member_change", args=[member.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Member._meta,
        "member": member,
        "form": form,
        "kind": Adjustment.Kind(kind),
        "approval_limit": approval_limit(kind),
        "title": _("Adjust %(kind)s of %(member)s") % {"kind": Adjustment.Kind(kind).label.lower(), "member": member},
    }
    return TemplateResponse(request, "admin/members/member/adjust.html", context)


def adjust_members_action(model_admin, request, queryset, kind: str):
    """The changelist action: a form, then a confirmation with the members and the total, then the
    service. Returning None sends the operator back to the changelist."""
    _check_permission(request, kind)
    count = queryset.count()
    if count > MAX_MEMBERS_PER_REQUEST:
        messages.error(request, _("Select at most %(n)d members for one adjustment.") % {"n": MAX_MEMBERS_PER_REQUEST})
        return None
    step = request.POST.get("step")
    form = AdjustmentForm(request.POST if step else None, kind=kind)
    confirming = False
    if step in ("preview", "confirm") and form.is_valid():
        if step == "confirm":
            adjustments = form.submit(members=list(queryset), user=request.user)
            if adjustments:
                report(request, adjustments)
                return None
        else:
            confirming = True
    amount = form.cleaned_data.get("amount") if form.is_bound and form.is_valid() else None
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Member._meta,
        "title": _("Adjust %(kind)s of %(n)d members") % {"kind": Adjustment.Kind(kind).label.lower(), "n": count},
        "form": form,
        "kind": Adjustment.Kind(kind),
        "action": f"adjust_{kind}",
        "members": queryset.select_related("tier")[:LISTED_MEMBERS],
        "count": count,
        "more": max(count - LISTED_MEMBERS, 0),
        "confirming": confirming,
        "reason": AdjustmentReason(form.cleaned_data["reason"]).label if confirming else None,
        "amount": amount,
        "total": amount * count if amount is not None else None,
        "needs_approval": amount is not None
        and would_need_approval(
            kind=kind,
            amount=amount,
            member_ids=list(queryset.values_list("pk", flat=True)),
            requester=request.user,
            now=timezone.now(),
        ),
        "approval_limit": approval_limit(kind),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/members/member/adjust_bulk.html", context)
