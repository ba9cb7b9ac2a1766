"""The configuration admins' History page (django-simple-history): every change to the object with
who made it, when, and each field's old and new value. A read-only audit trail."""

from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin


class ConfigHistoryAdmin(SimpleHistoryAdmin):
    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # The library's page of one past version saves its form on POST, and checks only the view
        # permission before doing so: a view-only user could overwrite the object. Reverting is
        # off (SIMPLE_HISTORY_REVERT_DISABLED), so the page only ever shows.
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
