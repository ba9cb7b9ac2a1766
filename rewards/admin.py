"""The mall in the admin: catalog, coupon templates, code pools (with CSV import), benefits per tier.
Redemptions, coupons, grants and holds are read-only; their actions call the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty.admin import ReadOnlyAdmin
from loyalty.admin_history import ConfigHistoryAdmin
from loyalty.backoffice.confirm import confirmation_page, confirmed
from loyalty.models import ProgramSettings
from loyalty.spreadsheets import SpreadsheetImportMixin
from members.errors import LoyaltyError

from . import calculations, services
from .models import Benefit, BenefitGrant, CodePool, Coupon, CouponTemplate, PointsHold, PoolCode, Redemption, Reward
from .resources import PoolCodeResource, RewardResource
from .selectors import pool_stock


def _run_action(modeladmin, request, queryset, action, done: str) -> None:
    """Apply a service to each selected row; refusals are shown, the others still go through. `done` is
    the message for the rows that went through, with an `%(n)d` for their count."""
    changed = 0
    for row in queryset:
        try:
            action(row)
            changed += 1
        except LoyaltyError as exc:
            modeladmin.message_user(request, f"{row}: {exc.message}", messages.WARNING)
    modeladmin.message_user(request, done % {"n": changed})


@admin.register(CouponTemplate)
class CouponTemplateAdmin(ConfigHistoryAdmin):
    list_display = ("code", "name", "kind", "value", "min_spend", "valid_days", "valid_until", "code_pool", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")


class ShippingForm(forms.Form):
    carrier = forms.CharField(label=gettext_lazy("Carrier"), max_length=64, required=False)
    tracking_number = forms.CharField(label=gettext_lazy("Tracking number"), max_length=64, required=False)

    def __init__(self, *args, count: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.count = count

    def clean_tracking_number(self):
        number = self.cleaned_data["tracking_number"]
        if number and self.count > 1:
            raise forms.ValidationError(_("A tracking number belongs to one parcel: ship one redemption at a time."))
        return number


class ImportCodesForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV, one code per line in the first column; a header named 'code' is skipped."),
    )


@admin.register(CodePool)
class CodePoolAdmin(ConfigHistoryAdmin):
    list_display = ("code", "name", "available_codes", "import_link", "created_at")
    search_fields = ("code", "name")

    def get_queryset(self, request):
        self._stock = pool_stock(pool_ids=list(CodePool.objects.values_list("pk", flat=True)))
        return super().get_queryset(request)

    @admin.display(description=gettext_lazy("available"))
    def available_codes(self, pool):
        return self._stock.get(pool.pk, 0)

    @admin.display(description="")
    def import_link(self, pool):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:rewards_codepool_import", args=[pool.pk]), _("Import codes…")
        )

    def get_urls(self):
        return [
            path(
                "<int:pool_id>/import/",
                self.admin_site.admin_view(self.import_codes),
                name="rewards_codepool_import",
            ),
            *super().get_urls(),
        ]

    def import_codes(self, request, pool_id):
        pool = get_object_or_404(CodePool, pk=pool_id)
        if not self.has_change_permission(request, pool):
            raise PermissionDenied
        form = ImportCodesForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                text = form.cleaned_data["file"].read().decode("utf-8-sig")
                result = services.import_pool_codes(pool=pool, text=text, actor=request.user)
            except UnicodeDecodeError:
                form.add_error("file", _("The file must be UTF-8 text."))
            except LoyaltyError as exc:
                form.add_error("file", [exc.message, *(m for ms in exc.fields.values() for m in ms)])
            else:
                self.message_user(
                    request,
                    _("Imported %(added)d codes into %(pool)s; %(duplicates)d duplicates.")
                    % {"added": result.added, "pool": pool, "duplicates": result.duplicates},
                )
                return redirect("admin:rewards_codepool_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "pool": pool,
            "form": form,
            "title": _("Import codes into %(pool)s") % {"pool": pool},
        }
        return render(request, "admin/rewards/codepool/import_codes.html", context)


@admin.register(PoolCode)
class PoolCodeAdmin(SpreadsheetImportMixin, ReadOnlyAdmin):
    resource_classes = [PoolCodeResource]
    list_display = ("code", "pool", "status", "member", "issued_at")
    list_filter = ("pool", "status")
    search_fields = ("code", "member__external_id")
    list_select_related = ("pool", "member")

    def has_import_permission(self, request):
        """As the pool's "Import codes…" page: importing codes changes the pool's stock."""
        return request.user.has_perm("rewards.change_codepool")


@admin.register(Reward)
class RewardAdmin(SpreadsheetImportMixin, ConfigHistoryAdmin):
    resource_classes = [RewardResource]
    list_display = (
        "sort_order",
        "code",
        "name",
        "kind",
        "points_cost",
        "cash_value",
        "value_per_point_display",
        "stock",
        "stock_left_display",
        "min_tier",
        "is_active",
    )
    list_display_links = ("code",)
    list_filter = ("kind", "is_active", "category", "min_tier")
    search_fields = ("code", "name")
    readonly_fields = ("redeemed_quantity", "cost_guard")
    list_select_related = ("min_tier",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        self._target = ProgramSettings.current().target_value_per_point
        return super().get_queryset(request)

    def _over_budget(self, reward) -> bool:
        target = getattr(self, "_target", None) or ProgramSettings.current().target_value_per_point
        return calculations.exceeds_budget(reward.cash_value, reward.points_cost, target)

    @admin.display(description=gettext_lazy("value / point"))
    def value_per_point_display(self, reward):
        if self._over_budget(reward):
            return format_html(
                '<strong style="color:#ba2121" title="{}">⚠ {}</strong>', _("over the budget"), reward.value_per_point
            )
        return reward.value_per_point

    @admin.display(description=gettext_lazy("left"))
    def stock_left_display(self, reward):
        return "∞" if reward.stock_left is None else reward.stock_left

    @admin.display(description=gettext_lazy("cost guard"))
    def cost_guard(self, reward):
        if reward.pk is None or not reward.points_cost:
            return "-"
        target = ProgramSettings.current().target_value_per_point
        verdict = _("over the budget") if self._over_budget(reward) else _("within the budget")
        return _("%(value)s per point, target %(target)s: %(verdict)s") % {
            "value": reward.value_per_point,
            "target": target,
            "verdict": verdict,
        }


@admin.register(Benefit)
class BenefitAdmin(ConfigHistoryAdmin):
    list_display = (
        "sort_order",
        "code",
        "name",
        "entitlement",
        "tier_list",
        "coupon_template",
        "coupon_quantity",
        "points",
        "rebate_percent",
        "is_active",
    )
    list_display_links = ("code",)
    list_filter = ("entitlement", "is_active", "tiers")
    filter_horizontal = ("tiers",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    @admin.display(description=gettext_lazy("tiers"))
    def tier_list(self, benefit):
        return ", ".join(tier.code for tier in benefit.tiers.all())


@admin.register(BenefitGrant)
class BenefitGrantAdmin(ReadOnlyAdmin):
    list_display = ("granted_at", "member", "benefit", "period", "tier", "coupon_count", "points", "growth", "job_run")
    list_filter = ("benefit", "period")
    search_fields = ("member__external_id",)
    list_select_related = ("member", "benefit", "tier")


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "member",
        "template",
        "kind",
        "value",
        "status",
        "valid_from",
        "valid_until",
        "used_order_id",
    )
    list_filter = ("status", "kind", "template")
    search_fields = ("code", "member__external_id", "used_order_id")
    list_select_related = ("member", "template")
    actions = ("void",)

    def has_void_permission(self, request):
        return request.user.has_perm("rewards.void_coupon")

    @admin.action(description=gettext_lazy("Void selected coupons (unused ones only)…"), permissions=["void"])
    def void(self, request, queryset):
        done, form = confirmed(request, with_reason=False)
        if not done:
            return confirmation_page(
                self,
                request,
                queryset,
                action="void",
                title=_("Void coupons"),
                question=_("Void these coupons? The members can no longer use them; this cannot be undone."),
                button=_("Yes, void them"),
            )
        user = request.user
        _run_action(
            self,
            request,
            queryset,
            lambda c: services.void_coupon(coupon=c, actor=user),
            _("%(n)d coupon(s) voided."),
        )


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "member",
        "reward",
        "quantity",
        "points_spent",
        "status",
        "tracking_number",
        "source",
    )
    list_filter = ("status", "reward__kind", "reward")
    search_fields = ("member__external_id", "idempotency_key", "reward__code", "tracking_number")
    list_select_related = ("member", "reward")
    actions = ("mark_shipped", "mark_delivered", "cancel")
    # The fulfilment buttons post the changelist's actions for this one redemption.
    change_form_template = "admin/rewards/redemption/change_form.html"

    def has_fulfil_permission(self, request):
        return request.user.has_perm("rewards.fulfil_redemption")

    def has_cancel_permission(self, request):
        return request.user.has_perm("rewards.cancel_redemption")

    def _fulfil(self, request, queryset, status: str, done: str, **shipping):
        user = request.user
        _run_action(
            self,
            request,
            queryset,
            lambda r: services.move_fulfilment(redemption_id=r.pk, status=status, actor=user, **shipping),
            done,
        )

    @admin.action(description=gettext_lazy("Goods: mark shipped…"), permissions=["fulfil"])
    def mark_shipped(self, request, queryset):
        confirming = request.POST.get("post") == "yes"
        form = ShippingForm(request.POST if confirming else None, count=queryset.count())
        if not confirming or not form.is_valid():
            return confirmation_page(
                self,
                request,
                queryset,
                action="mark_shipped",
                title=_("Ship redemptions"),
                question=_("Mark these goods redemptions shipped? The members see the carrier and tracking number."),
                button=_("Mark shipped"),
                form=form,
            )
        shipped = _("%(n)d redemption(s) shipped.")
        self._fulfil(request, queryset, Redemption.Status.SHIPPED, shipped, **form.cleaned_data)
        return None

    @admin.action(description=gettext_lazy("Goods: mark delivered"), permissions=["fulfil"])
    def mark_delivered(self, request, queryset):
        self._fulfil(request, queryset, Redemption.Status.DELIVERED, _("%(n)d redemption(s) delivered."))

    @admin.action(description=gettext_lazy("Cancel: refund the points, restore the stock…"), permissions=["cancel"])
    def cancel(self, request, queryset):
        done, form = confirmed(request, with_reason=True)
        if not done:
            return confirmation_page(
                self,
                request,
                queryset,
                action="cancel",
                title=_("Cancel redemptions"),
                question=_(
                    "Cancel these redemptions? The points go back to the members, the stock is restored and "
                    "the coupons or codes handed out are voided."
                ),
                button=_("Yes, cancel them"),
                form=form,
            )
        user, reason = request.user, form.cleaned_data["reason"]
        _run_action(
            self,
            request,
            queryset,
            lambda r: services.cancel_redemption(redemption_id=r.pk, reason=reason, actor=user),
            _("%(n)d redemption(s) cancelled."),
        )


@admin.register(PointsHold)
class PointsHoldAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "member",
        "amount",
        "order_id",
        "status",
        "captured_amount",
        "expires_at",
        "release_reason",
    )
    list_filter = ("status", "release_reason")
    search_fields = ("member__external_id", "order_id")
    list_select_related = ("member",)
    actions = ("release",)

    def has_release_permission(self, request):
        return request.user.has_perm("rewards.release_hold")

    @admin.action(description=gettext_lazy("Release: give the points back…"), permissions=["release"])
    def release(self, request, queryset):
        done, _form = confirmed(request, with_reason=False)
        if not done:
            return confirmation_page(
                self,
                request,
                queryset,
                action="release",
                title=_("Release points holds"),
                question=_(
                    "Release these holds? Held points go back to the members; points of holds already "
                    "captured are refunded although the order was paid with them."
                ),
                button=_("Yes, release them"),
            )
        user = request.user
        _run_action(
            self,
            request,
            queryset,
            lambda h: services.release_hold(hold_id=h.pk, actor=user),
            _("%(n)d hold(s) released."),
        )
