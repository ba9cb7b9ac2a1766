"""Spreadsheet import and export in the admin (django-import-export), shared by every app.

- Exports neutralise cells a spreadsheet would run as a formula, in the resources, row by row. The
  library's own escape (IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT, left off in the settings) strips one
  leading "=" only, so "==1+1" stays a formula and "+", "-", "@" pass untouched; it also turns every
  XLSX cell into text (numbers become strings, empty cells "None").
- Exports are capped (LOYALTY_EXPORT_MAX_ROWS, LOYALTY_EXPORT_MAX_XLSX_ROWS): the library reads the
  queryset in chunks (.iterator()) but builds the whole file in memory within one request, and
  openpyxl writes XLSX slowly (figures in docs/benchmarks.md).
- Imports are capped at LOYALTY_IMPORT_MAX_ROWS rows, run row by row through the resources' services,
  and always show the library's dry-run preview before anything is written.
- The uploaded file waits for the confirm step under a random name in a folder of its own, and the
  confirm step opens (and then deletes) only a file this user's session uploaded: the library takes
  the file name from a form field, which a client can set to any file of the temp folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ObjectDoesNotExist,
    PermissionDenied,
    SuspiciousOperation,
    ValidationError,
)
from django.shortcuts import redirect
from django.utils.translation import gettext
from import_export import resources, widgets
from import_export.admin import ExportMixin, ImportMixin
from import_export.formats import base_formats
from import_export.tmp_storages import TempFolderStorage

from members.errors import LoyaltyError

# OWASP's list: a cell starting with one of these is a formula to Excel, LibreOffice and Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


# Control characters an XLSX cell cannot hold (openpyxl refuses the whole file for one of them); a
# member's name may carry one, typed or pasted into a storefront. Tab, line feed and carriage return stay.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(value: Any) -> Any:
    """Text that would run as a formula gets a leading apostrophe, which makes it plain text, and
    loses the control characters a spreadsheet cannot hold. Numbers (also a negative amount rendered
    as text in CSV) and other values are left alone."""
    if not isinstance(value, str):
        return value
    value = _CONTROL_CHARACTERS.sub("", value)
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


SPREADSHEET_FORMATS = [base_formats.CSV, base_formats.XLSX]


class CodeWidget(widgets.ForeignKeyWidget):
    """A reference by code (tier, coupon template, code pool); an unknown code is a row error. Each
    code is looked up once per import: a resource copies its widgets for every import it runs."""

    def __init__(self, model, **kwargs):
        super().__init__(model, field="code", **kwargs)
        self._found: dict[Any, Any] = {}

    def clean(self, value, row=None, **kwargs):
        if value not in self._found:
            try:
                self._found[value] = super().clean(value, row, **kwargs)
            except ObjectDoesNotExist:
                raise ValueError(
                    gettext("No %(model)s with code %(code)r.")
                    % {"model": self.model._meta.verbose_name, "code": value}
                ) from None
        return self._found[value]


class CalendarDateWidget(widgets.DateWidget):
    """XLSX date cells arrive as datetimes at midnight; the services take a date."""

    def clean(self, value, row=None, **kwargs):
        cleaned = super().clean(value, row, **kwargs)
        return cleaned.date() if isinstance(cleaned, datetime) else cleaned


def refusal(exc: LoyaltyError) -> ValidationError:
    """A service's refusal as the row's validation error, which the import preview shows."""
    return ValidationError({NON_FIELD_ERRORS: [exc.message], **exc.fields})


class SpreadsheetResource(resources.ModelResource):
    """Base of the import and export resources."""

    def before_import(self, dataset, **kwargs):
        limit = settings.LOYALTY_IMPORT_MAX_ROWS
        if len(dataset) > limit:
            raise ValueError(
                gettext("The file has %(rows)s rows; import at most %(limit)s at a time.")
                % {"rows": len(dataset), "limit": limit}
            )

    def export_resource(self, instance, selected_fields=None, **kwargs):
        return [safe_cell(value) for value in super().export_resource(instance, selected_fields, **kwargs)]

    def after_import(self, dataset, result, **kwargs):
        """Rows are created with ids the database assigns, so the library's sequence reset (to the
        table's max id) is skipped: on a live system it can hand out an id that is already in use."""


class SpreadsheetExportMixin(ExportMixin):
    """Export the changelist (with its filters) as CSV or XLSX; needs the model's export permission."""

    formats = SPREADSHEET_FORMATS
    # With a byte order mark Excel reads a CSV as UTF-8 (Chinese names) instead of the local code page.
    to_encoding = "utf-8-sig"

    def get_export_data(self, file_format, request, queryset, **kwargs):
        xlsx = file_format.is_binary()
        limit = settings.LOYALTY_EXPORT_MAX_XLSX_ROWS if xlsx else settings.LOYALTY_EXPORT_MAX_ROWS
        if queryset[: limit + 1].count() > limit:
            message = gettext("More than %(limit)s rows for %(format)s: narrow the list with its filters or a search.")
            if xlsx:
                message += " " + gettext("CSV takes up to %(csv_limit)s rows.")
            # The library shows a ValueError's text as an error message on the export page.
            raise ValueError(
                message
                % {"limit": limit, "format": file_format.get_title(), "csv_limit": settings.LOYALTY_EXPORT_MAX_ROWS}
            )
        return super().get_export_data(file_format, request, queryset, **kwargs)


class UploadStorage(TempFolderStorage):
    """Uploads waiting for their confirm step: `<temp folder>/loyalty-imports/<32 hex digits>`. A name
    of any other shape is refused before any file is opened or removed."""

    FOLDER = "loyalty-imports"
    NAME = re.compile(r"[0-9a-f]{32}")
    # Previews that found errors, and previews nobody confirmed, leave their file behind: each new
    # upload removes those older than this.
    KEEP_SECONDS = 24 * 3600

    def save(self, data):
        folder = os.path.join(tempfile.gettempdir(), self.FOLDER)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self._remove_abandoned(folder)
        self.name = uuid.uuid4().hex
        with open(self.get_full_path(), "xb") as file:  # the library writes the upload's bytes
            file.write(data)

    def _remove_abandoned(self, folder: str) -> None:
        too_old = time.time() - self.KEEP_SECONDS
        for entry in os.scandir(folder):
            if self.NAME.fullmatch(entry.name) and entry.stat().st_mtime < too_old:
                with contextlib.suppress(FileNotFoundError):  # another request removed it first
                    os.remove(entry.path)

    def get_full_path(self):
        if not isinstance(self.name, str) or not self.NAME.fullmatch(self.name):
            raise SuspiciousOperation("Not an upload name.")
        return os.path.join(tempfile.gettempdir(), self.FOLDER, self.name)


UPLOADS_SESSION_KEY = "loyalty_import_uploads"
MAX_UPLOADS_REMEMBERED = 20


class SpreadsheetImportMixin(ImportMixin):
    """Import CSV or XLSX after a dry-run preview; needs the model's change permission. The confirmed
    import is all or nothing: a row refused then (the data changed since the preview) writes none.
    The confirm step imports only a file this session uploaded (UploadStorage)."""

    formats = SPREADSHEET_FORMATS

    def get_tmp_storage_class(self):
        """UploadStorage unless IMPORT_EXPORT_TMP_STORAGE_CLASS names another (the cache, for web
        servers on several hosts); the session check below applies to either."""
        if getattr(settings, "IMPORT_EXPORT_TMP_STORAGE_CLASS", None):
            return super().get_tmp_storage_class()
        return UploadStorage

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        confirm_form = getattr(response, "context_data", {}).get("confirm_form")
        if confirm_form is not None:
            uploads = request.session.get(UPLOADS_SESSION_KEY, [])
            uploads = [*uploads, self._remembered(confirm_form.initial["import_file_name"])][-MAX_UPLOADS_REMEMBERED:]
            request.session[UPLOADS_SESSION_KEY] = uploads
        return response

    def _remembered(self, name: str) -> str:
        """An upload is remembered with the import it was previewed for: a file previewed as pool
        codes cannot be confirmed as members, skipping the members' preview."""
        return f"{self.opts.label}:{name}"

    def process_import(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        uploads = request.session.get(UPLOADS_SESSION_KEY, [])
        upload = self._remembered(request.POST.get("import_file_name", ""))
        if request.method != "POST" or upload not in uploads:
            messages.error(request, gettext("That upload is not yours or was imported already: upload the file again."))
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        request.session[UPLOADS_SESSION_KEY] = [remembered for remembered in uploads if remembered != upload]
        return super().process_import(request, **kwargs)

    def get_import_data_kwargs(self, **kwargs):
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            # The library would report the rolled-back rows as imported.
            messages.error(
                request,
                gettext(
                    "Nothing was imported: rows the preview accepted are refused now, as the data changed "
                    "meanwhile. Upload the file again to see which."
                ),
            )
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        return super().process_result(result, request)


class SpreadsheetImportExportMixin(SpreadsheetImportMixin, SpreadsheetExportMixin):
    """Both, with a resource for each direction: what is exported is not all importable."""

    import_export_change_list_template = "admin/import_export/change_list_import_export.html"
    import_resource_classes: list[type[resources.Resource]] = []
    export_resource_classes: list[type[resources.Resource]] = []

    def get_import_resource_classes(self, request):
        return self.import_resource_classes

    def get_export_resource_classes(self, request):
        return self.export_resource_classes
