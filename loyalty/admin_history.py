"""The configuration admins: saved through the model's configuration writer (loyalty.services.
configuration), like the spreadsheet imports and the program file, and with a History page
(django-simple-history): every change to the object with who made it, when, and each field's old
and new value, a read-only audit trail."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from loyalty.services.configuration import writer_for
from members.errors import LoyaltyError


class ConfigForm(forms.ModelForm):
    """The writer's cross-entity checks (a ladder that still ascends ...) as form errors, after the
    model's own validation, so that a refused change is shown on the form, not as a failed save."""

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        for check in writer_for(self._meta.model).checks:
            try:
                check(self.instance)
            except LoyaltyError as error:
                for name, problems in error.fields.items():
                    for problem in problems:
                        self.add_error(name if name in self.fields else None, problem)
                if not error.fields:
                    self.add_error(None, error.message)


class ConfigHistoryAdmin(SimpleHistoryAdmin):
    form = ConfigForm

    def save_model(self, request, obj, form, change):
        many = {
            field.name: form.cleaned_data[field.name]
            for field in obj._meta.many_to_many
            if field.name in form.cleaned_data
        }
        result = writer_for(self.model).save(
            obj, actor=request.user, fields=form.changed_data if change else None, many_to_many=many
        )
        for warning in result.warnings:
            self.message_user(request, warning, messages.WARNING)

    def save_related(self, request, form, formsets, change):
        """The many-to-many relations were saved by the writer with the object."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # The library's page of one past version saves its form on POST, and checks only the view
        # permission before doing so: a view-only user could overwrite the object. Reverting is
        # off (SIMPLE_HISTORY_REVERT_DISABLED), so the page only ever shows.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
