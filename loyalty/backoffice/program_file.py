"""The program file in the admin: download it; upload one, see the changes it would make (a dry run
of the same service the `program` command uses), then confirm to apply them."""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.models import ProgramSettings
from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services.program import apply_program
from members.errors import LoyaltyError

MAX_BYTES = 2_000_000


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Program file (JSON)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from None


def _document(text: str):
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": error}) from None
    except (RecursionError, ValueError):
        raise forms.ValidationError(_("Not valid JSON: nested too deeply or a number too long.")) from None
    try:
        return parse_program(raw)
    except LoyaltyError as error:
        problems = [f"{path}: {' '.join(messages_)}" for path, messages_ in error.fields.items()]
        raise forms.ValidationError(problems or [error.message]) from None


def export_view(model_admin, request):
    if not request.user.has_perm("loyalty.view_programsettings"):
        raise PermissionDenied
    body = json.dumps(export_program(), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="program-{timezone.now():%Y%m%d-%H%M}.json"'
    return response


def import_view(model_admin, request):
    if not request.user.has_perm("loyalty.change_programsettings"):
        raise PermissionDenied
    form = UploadForm(request.POST or None, request.FILES or None)
    text, changes, errors = "", None, []
    if request.method == "POST" and request.POST.get("step") == "apply":
        text = request.POST.get("document", "")
        try:
            applied = apply_program(document=_document(text), actor=request.user)
        except forms.ValidationError as error:
            errors = error.messages
        except LoyaltyError as error:
            errors = [error.message]
        else:
            messages.success(request, _("Program file applied: %(n)d change(s).") % {"n": len(applied)})
            return redirect("admin:loyalty_programsettings_changelist")
    elif request.method == "POST" and form.is_valid():
        text = form.cleaned_data["file"]
        try:
            changes = apply_program(document=_document(text), dry_run=True, actor=request.user)
        except forms.ValidationError as error:
            errors = error.messages
        except LoyaltyError as error:
            errors = [error.message]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": ProgramSettings._meta,
        "title": _("Program file"),
        "form": form,
        "document": text,
        "changes": changes,
        "errors": errors,
    }
    return TemplateResponse(request, "admin/loyalty/programsettings/program_file.html", context)
