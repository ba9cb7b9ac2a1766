"""The member page's steps that cannot be undone — closing a membership, erasing a member's personal
data — each behind a confirmation page with the reason kept, and the notes staff write on a member.
The services (members.services, loyalty.services.privacy) check the permissions again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.services.privacy import anonymise_member
from members import services
from members.errors import LoyaltyError
from members.models import Member


class DecisionReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=services.NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("Kept in the member's notes with your name and the time."),
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Note"), max_length=services.NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )


@dataclass(frozen=True)
class Step:
    permission: str
    service: Any
    title: Any
    consequences: tuple[Any, ...]
    button: Any
    done: Any


STEPS = {
    "close": Step(
        permission="members.close_member",
        service=services.close_member,
        title=gettext_lazy("Close the membership of %(member)s"),
        consequences=(
            gettext_lazy("The member can no longer earn, spend or redeem; the storefront API answers member_closed."),
            gettext_lazy("Balances, ledgers and history are kept. A closed membership cannot be reopened."),
        ),
        button=gettext_lazy("Yes, close the membership"),
        done=gettext_lazy("The membership of %(member)s is closed."),
    ),
    "anonymise": Step(
        permission="members.anonymise_member",
        service=anonymise_member,
        title=gettext_lazy("Erase the personal data of %(member)s"),
        consequences=(
            gettext_lazy(
                "Name, email, phone and birthday are erased, and so are the notes' text, shipping "
                "addresses and the free-form data of the member's events."
            ),
            gettext_lazy(
                "The membership is closed. Ledgers, amounts and the external id are kept, so the "
                "program's figures and audit stay whole."
            ),
            gettext_lazy("Subscribers get member.anonymised, so that they erase their copies. This cannot be undone."),
        ),
        button=gettext_lazy("Yes, erase the personal data"),
        done=gettext_lazy("The personal data of %(member)s is erased."),
    ),
}


def lifecycle_view(model_admin, request, member_id: int, step_name: str):
    step = STEPS.get(step_name)
    if step is None or not request.user.has_perm(step.permission):
        raise PermissionDenied
    member = get_object_or_404(Member.objects.select_related("tier"), pk=member_id)
    form = DecisionReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            step.service(member=member, reason=form.cleaned_data["reason"], actor=request.user)
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, step.done % {"member": member.external_id})
            return redirect(reverse("admin:members_member_change", args=[member.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Member._meta,
        "member": member,
        "form": form,
        "title": step.title % {"member": member},
        "consequences": step.consequences,
        "button": step.button,
    }
    return TemplateResponse(request, "admin/members/member/confirm_step.html", context)


def add_note_view(model_admin, request, member_id: int):
    if not request.user.has_perm("members.add_membernote"):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    member = get_object_or_404(Member, pk=member_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The note is empty or too long."))
    else:
        try:
            services.add_member_note(member=member, text=form.cleaned_data["text"], actor=request.user)
        except LoyaltyError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Note added."))
    return redirect(reverse("admin:members_member_change", args=[member.pk]) + "#member-notes")
