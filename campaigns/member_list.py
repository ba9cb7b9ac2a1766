"""The campaigns' part of the admin's member list (loyalty.extensions): a column of tag chips, filters
by tag and by segment, and actions that put a tag on the selected members or take it off, after a
confirmation (campaigns.services.tags)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty import extensions
from loyalty.backoffice.confirm import confirmation_page, confirmed
from members.errors import LoyaltyError

from .models import MemberTag, Segment, SegmentMember, Tag, TagSource
from .services import tag_members, untag_members
from .services.tags import TAG_PERMISSION


def _carried(now):
    return MemberTag.objects.filter(tag__active=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


@admin.display(description=gettext_lazy("tags"))
def tag_chips(member):
    return format_html_join(
        " ",
        '<span class="tag-chip" style="background:{}" title="{}">{}</span>',
        ((row.tag.colour, row.tag.display_name, row.tag.display_name) for row in getattr(member, "carried_tags", [])),
    )


def prefetch_tags(queryset):
    rows = _carried(timezone.now()).select_related("tag").order_by("tag__group", "tag__code")
    return queryset.prefetch_related(Prefetch("tags", queryset=rows, to_attr="carried_tags"))


class TagFilter(admin.SimpleListFilter):
    title = gettext_lazy("tag")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(tag.code, tag.display_name) for tag in Tag.objects.filter(active=True).order_by("group", "code")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        carrying = _carried(timezone.now()).filter(member=OuterRef("pk"), tag__code=self.value())
        return queryset.filter(Exists(carrying))


class SegmentFilter(admin.SimpleListFilter):
    title = gettext_lazy("segment")
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        segments = Segment.objects.filter(active=True, current_version__isnull=False).order_by("code")
        return [(segment.code, str(segment)) for segment in segments]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        segment = Segment.objects.filter(code=self.value()).first()
        if segment is None:
            return queryset.none()
        members = SegmentMember.objects.filter(version_id=segment.current_version_id, member=OuterRef("pk"))
        return queryset.filter(Exists(members))


class TagForm(forms.Form):
    tag = forms.ModelChoiceField(
        label=gettext_lazy("tag"),
        queryset=Tag.objects.filter(active=True, kind=Tag.Kind.MANUAL).order_by("group", "code"),
        to_field_name="code",
    )
    expires_at = forms.DateTimeField(
        label=gettext_lazy("expires at"),
        required=False,
        help_text=gettext_lazy("Empty: the tag's time to live, or never."),
    )


def tag_after_confirming(modeladmin, request, queryset, *, action: str, adding: bool, question: str, member_ids):
    """A changelist action that puts a tag on members (or takes it off): the first POST asks for the
    tag on a confirmation page, the second calls the tag services with `member_ids()`."""
    done, _reason = confirmed(request, with_reason=False)
    form = TagForm(request.POST if done else None)
    if not done or not form.is_valid():
        return confirmation_page(
            modeladmin,
            request,
            queryset,
            action=action,
            title=_("Put a tag on members") if adding else _("Take a tag off members"),
            question=question,
            button=_("Yes, put it on") if adding else _("Yes, take it off"),
            form=form,
        )
    code = form.cleaned_data["tag"].code
    try:
        if adding:
            result = tag_members(
                member_ids=member_ids(),
                tag=code,
                source=TagSource.MANUAL,
                actor=request.user,
                expires_at=form.cleaned_data["expires_at"],
            )
            modeladmin.message_user(
                request,
                _("%(tag)s put on %(added)s members (%(already)s had it).")
                % {"tag": code, "added": result.added, "already": result.already},
            )
        else:
            removed = untag_members(member_ids=member_ids(), tag=code, actor=request.user)
            modeladmin.message_user(request, _("%(tag)s taken off %(n)s members.") % {"tag": code, "n": removed})
    except LoyaltyError as error:
        modeladmin.message_user(request, error.message, messages.ERROR)
    return None


def add_tag(modeladmin, request, queryset):
    return tag_after_confirming(
        modeladmin,
        request,
        queryset,
        action="add_tag",
        adding=True,
        question=_("Put this tag on these members?"),
        member_ids=lambda: list(queryset.values_list("pk", flat=True)),
    )


def remove_tag(modeladmin, request, queryset):
    return tag_after_confirming(
        modeladmin,
        request,
        queryset,
        action="remove_tag",
        adding=False,
        question=_("Take this tag off these members?"),
        member_ids=lambda: list(queryset.values_list("pk", flat=True)),
    )


def register() -> None:
    extensions.member_list_columns.register("tags", extensions.MemberListColumn(tag_chips, prefetch_tags))
    extensions.member_list_filters.register("tag", TagFilter)
    extensions.member_list_filters.register("segment", SegmentFilter)
    extensions.member_actions.register(
        "add_tag", extensions.MemberAction(add_tag, gettext_lazy("Put a tag on selected members…"), TAG_PERMISSION)
    )
    extensions.member_actions.register(
        "remove_tag",
        extensions.MemberAction(remove_tag, gettext_lazy("Take a tag off selected members…"), TAG_PERMISSION),
    )
