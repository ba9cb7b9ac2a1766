"""Tags and segments in the admin. Tags are configuration (saved through their writer, with
history); a segment's definition is edited on its own page, previewed (how many, who, who would
enter and leave) before it is saved as a new version through campaigns.services."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.admin_history import ConfigHistoryAdmin
from loyalty.config import current_config
from members.errors import LoyaltyError

from . import (
    campaign_admin,  # noqa: F401  (registers CampaignAdmin)
    definitions,
    selectors,
)
from .member_list import tag_after_confirming
from .models import MemberTag, Segment, SegmentMember, SegmentVersion, Tag
from .services import refresh_segment, save_segment
from .services.segments import check_definition
from .services.tags import TAG_PERMISSION, import_member_tags
from .tasks import dispatch_computation


class ImportTagsForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV (UTF-8): external_id,tag[,expires_at] per line, expires_at in ISO 8601 with an offset "
            "(2027-01-31T23:59+08:00) or empty for the tag's time to live; a header line is skipped."
        ),
    )


@admin.register(Tag)
class TagAdmin(ConfigHistoryAdmin):
    list_display = ("code", "name_column", "group", "kind", "colour_column", "carriers", "api_writable", "active")
    list_filter = ("kind", "group", "active", "api_writable")
    search_fields = ("code", "name")
    ordering = ("group", "code")
    change_list_template = "admin/campaigns/tag/change_list.html"

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="campaigns_tag_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Put tags on members from a CSV, through the tag services; bad lines are listed, never fatal."""
        if not request.user.has_perm(TAG_PERMISSION):
            raise PermissionDenied
        form = ImportTagsForm(request.POST or None, request.FILES or None)
        result = None
        if request.method == "POST" and form.is_valid():
            try:
                text = form.cleaned_data["file"].read().decode("utf-8-sig")
                result = import_member_tags(text=text, actor=request.user)
            except UnicodeDecodeError:
                form.add_error("file", _("The file must be UTF-8 text."))
            except LoyaltyError as error:
                form.add_error("file", [error.message, *(m for ms in error.fields.values() for m in ms)])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "result": result,
            "title": _("Import members' tags"),
        }
        return TemplateResponse(request, "admin/campaigns/tag/import.html", context)

    def get_queryset(self, request):
        carrying = MemberTag.objects.filter(tag=OuterRef("pk")).order_by().values("tag").annotate(n=Count("*"))
        return (
            super()
            .get_queryset(request)
            .annotate(carrier_count=Coalesce(Subquery(carrying.values("n")), 0, output_field=IntegerField()))
        )

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def name_column(self, tag):
        return tag.display_name

    @admin.display(description=gettext_lazy("colour"))
    def colour_column(self, tag):
        return format_html('<span class="tag-chip" style="background:{}">{}</span>', tag.colour, tag.code)

    @admin.display(description=gettext_lazy("members"), ordering="carrier_count")
    def carriers(self, tag):
        return tag.carrier_count


class DefinitionForm(forms.Form):
    """A segment's code, name and definition (JSON), checked as the service checks it."""

    code = forms.SlugField(label=gettext_lazy("code"), max_length=64)
    name = forms.CharField(label=gettext_lazy("name"), max_length=128)
    description = forms.CharField(
        label=gettext_lazy("description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    definition = forms.JSONField(
        label=gettext_lazy("definition"),
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "definition-editor", "spellcheck": "false"}),
        help_text=gettext_lazy('Predicates combined with "all", "any" and "not"; see the list below.'),
    )

    def __init__(self, *args, segment: Segment | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.segment = segment
        if segment is not None:
            self.fields["code"].disabled = True

    def clean_code(self):
        code = self.cleaned_data["code"]
        if self.segment is None and Segment.objects.filter(code=code).exists():
            raise forms.ValidationError(_("A segment with this code exists."))
        return code

    def clean_definition(self):
        try:
            return self.cleaned_data["definition"], check_definition(self.cleaned_data["definition"])
        except LoyaltyError as error:
            raise forms.ValidationError(error.fields.get("definition") or [error.message]) from None


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name_column", "kind", "members", "computed", "compute_time", "version", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name")
    list_select_related = ("current_version",)
    readonly_fields = ("code", "kind", "snapshot_of", "current_version")
    fields = ("code", "name", "description", "kind", "snapshot_of", "current_version", "active")
    actions = ("refresh_now", "tag_everyone")
    change_list_template = "admin/campaigns/segment/change_list.html"
    change_form_template = "admin/campaigns/segment/change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False  # campaigns will refer to segments; deactivate instead

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:campaigns_segment_definition_new")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("new/", view(self.definition_view), name="campaigns_segment_definition_new"),
            path("<int:segment_id>/definition/", view(self.definition_view), name="campaigns_segment_definition"),
            path("<int:segment_id>/progress/", view(self.progress_view), name="campaigns_segment_progress"),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def name_column(self, segment):
        return str(segment)

    @admin.display(description=gettext_lazy("members"))
    def members(self, segment):
        """The count, linking to the member list filtered by the segment (where it can be exported)."""
        if segment.current_version is None:
            return None
        url = reverse("admin:members_member_changelist")
        return format_html('<a href="{}?segment={}">{}</a>', url, segment.code, segment.current_version.member_count)

    @admin.display(description=gettext_lazy("computed at"))
    def computed(self, segment):
        moment = segment.current_version.computed_at if segment.current_version else None
        if moment is None:
            return None
        return date_format(moment.astimezone(current_config().settings.zone), "SHORT_DATETIME_FORMAT")

    @admin.display(description=gettext_lazy("compute time (ms)"))
    def compute_time(self, segment):
        return segment.current_version.compute_ms if segment.current_version else None

    def get_queryset(self, request):
        computing = SegmentVersion.objects.filter(segment=OuterRef("pk"), computing=True).order_by("-number")
        return (
            super()
            .get_queryset(request)
            .annotate(
                computing_number=Subquery(computing.values("number")[:1]),
                computing_done=Subquery(computing.values("chunks_done")[:1]),
                computing_total=Subquery(computing.values("chunks_total")[:1]),
            )
        )

    @admin.display(description=gettext_lazy("version"))
    def version(self, segment):
        number = segment.current_version.number if segment.current_version else None
        if segment.computing_number is None:
            return number
        computing = _("computing version %(version)s: %(done)s of %(total)s chunks") % {
            "version": segment.computing_number,
            "done": segment.computing_done,
            "total": segment.computing_total or "…",
        }
        return format_html('{} <span class="help">({})</span>', number or "–", computing)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        segment = self.get_object(request, object_id)
        computing = selectors.version_in_computation(segment) if segment is not None else None
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "computing": computing})

    def progress_view(self, request, segment_id: int):
        """The computation of the segment's newest version as JSON, for the change page's script."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        segment = get_object_or_404(Segment.objects.select_related("current_version"), pk=segment_id)
        newest = segment.versions.order_by("-number").first()
        current = segment.current_version
        return JsonResponse(
            {
                "computing": bool(newest and newest.computing),
                "version": newest.number if newest else None,
                "chunks_done": newest.chunks_done if newest else 0,
                "chunks_total": newest.chunks_total if newest else 0,
                "current_version": current.number if current else None,
                "member_count": current.member_count if current else None,
            }
        )

    def _compute_in_background(self, request, segment: Segment, *, resuming: bool = False) -> None:
        """Hand the segment's version in computation (if any) to the workers once this request's
        changes are committed, and say so."""
        version = selectors.version_in_computation(segment)
        if version is None:
            self.message_user(request, _("%(segment)s saved.") % {"segment": segment})
            return
        transaction.on_commit(lambda: dispatch_computation(version.pk))
        current = segment.current_version
        values = {"segment": segment, "version": version.number, "current": current.number if current else None}
        if resuming:
            message = _("%(segment)s: computing version %(version)s again from where it stopped.")
        elif current is None:
            message = _("%(segment)s saved. Its members are being computed.")
        else:
            message = _(
                "%(segment)s saved as version %(version)s. Its members are being computed; until they are, "
                "version %(current)s stays in use."
            )
        self.message_user(request, message % values)

    @admin.action(description=gettext_lazy("Recompute now"), permissions=["change"])
    def refresh_now(self, request, queryset):
        for segment in queryset.filter(kind=Segment.Kind.DYNAMIC):
            if (stopped := selectors.version_in_computation(segment)) is not None:
                # Saving the same definition again resumes its computation (and checks the permission).
                try:
                    again = save_segment(
                        code=segment.code,
                        name=segment.name,
                        description=segment.description,
                        definition=stopped.definition,
                        actor=request.user,
                        compute=False,
                    )
                except LoyaltyError as error:  # e.g. a tier it names was removed since
                    self.message_user(request, f"{segment.code}: {error.message}", messages.WARNING)
                    continue
                self._compute_in_background(request, again, resuming=True)
                continue
            try:
                version, changes = refresh_segment(code=segment.code, actor=request.user)
            except LoyaltyError as error:
                self.message_user(request, f"{segment.code}: {error.message}", messages.WARNING)
                continue
            key = f"segment:{segment.code}"
            self.message_user(
                request,
                _("%(segment)s: %(count)s members (%(entered)s entered, %(left)s left).")
                % {
                    "segment": segment,
                    "count": version.member_count,
                    "entered": changes.entered.get(key, 0),
                    "left": changes.left.get(key, 0),
                },
            )

    @admin.action(description=gettext_lazy("Put a tag on everyone in the selected segments…"), permissions=["tag"])
    def tag_everyone(self, request, queryset):
        def members_of_segments() -> list[int]:
            versions = [segment.current_version_id for segment in queryset if segment.current_version_id]
            members = SegmentMember.objects.filter(version_id__in=versions).values_list("member_id", flat=True)
            return list(members.distinct())

        return tag_after_confirming(
            self,
            request,
            queryset,
            action="tag_everyone",
            adding=True,
            question=_("Put this tag on every member of these segments?"),
            member_ids=members_of_segments,
        )

    def has_tag_permission(self, request):
        return request.user.has_perm(TAG_PERMISSION)

    def definition_view(self, request, segment_id: int | None = None):
        """A dynamic segment's definition: preview, then save as a new version (or create it)."""
        segment = get_object_or_404(Segment, pk=segment_id, kind=Segment.Kind.DYNAMIC) if segment_id else None
        needed = "campaigns.change_segment" if segment else "campaigns.add_segment"
        if not request.user.has_perm(needed):
            raise PermissionDenied
        initial: dict[str, Any] = {}
        if segment is not None:
            definition = segment.current_version.definition if segment.current_version else {}
            initial = {"code": segment.code, "name": segment.name, "description": segment.description}
            initial["definition"] = definition
        form = DefinitionForm(request.POST or None, initial=initial, segment=segment)
        preview = None
        if request.method == "POST" and form.is_valid():
            raw, node = form.cleaned_data["definition"]
            if request.POST.get("step") == "save":
                try:
                    saved = save_segment(
                        code=segment.code if segment else form.cleaned_data["code"],
                        name=form.cleaned_data["name"],
                        description=form.cleaned_data["description"],
                        definition=raw,
                        actor=request.user,
                        compute=False,
                    )
                except LoyaltyError as error:
                    form.add_error(None, error.message)
                else:
                    self._compute_in_background(request, saved)
                    return redirect(reverse("admin:campaigns_segment_change", args=[saved.pk]))
            else:
                preview = selectors.preview_definition(node=node, segment=segment, as_of=timezone.now())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Definition of %(segment)s") % {"segment": segment} if segment else _("New segment"),
            "segment": segment,
            "form": form,
            "preview": preview,
            "predicates": [
                (name, predicate.label, json.dumps({name: predicate.example}, ensure_ascii=False))
                for name, predicate in definitions.predicates.items()
            ],
        }
        return TemplateResponse(request, "admin/campaigns/segment/definition.html", context)
