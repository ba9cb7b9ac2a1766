"""The catalog and the partner codes of the code pools from spreadsheets (import only; the program
file exports the catalog). References are by code: min_tier, coupon_template, code_pool, pool."""

from __future__ import annotations

from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader

from loyalty.models import Tier
from loyalty.services.configuration import writer_for
from loyalty.spreadsheets import CodeWidget, SpreadsheetResource, refusal
from members.errors import LoyaltyError

from . import services
from .models import CodePool, CouponTemplate, PoolCode, Reward


class RewardResource(SpreadsheetResource):
    """A row whose code is new adds a reward, a known code updates it; each row is saved through the
    reward's configuration writer, checked as the admin's form checks it."""

    min_tier = Field(attribute="min_tier", column_name="min_tier", widget=CodeWidget(Tier))
    coupon_template = Field(
        attribute="coupon_template", column_name="coupon_template", widget=CodeWidget(CouponTemplate)
    )
    code_pool = Field(attribute="code_pool", column_name="code_pool", widget=CodeWidget(CodePool))

    class Meta:
        model = Reward
        fields = (
            "code",
            "name",
            "description",
            "image_url",
            "kind",
            "points_cost",
            "cash_value",
            "stock",
            "per_member_limit",
            "limit_period",
            "min_tier",
            "visible_from",
            "visible_until",
            "is_active",
            "category",
            "sort_order",
            "coupon_template",
            "code_pool",
        )
        import_order = fields
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def save_instance(self, instance, is_create, row, **kwargs):
        """Through the reward's configuration writer, as the admin's form saves: only the imported
        columns (redeemed_quantity moves with redemptions in the meantime), as the importing user."""
        fields = None if is_create else [field.attribute for field in self.get_import_fields()]
        try:
            writer_for(Reward).save(instance, actor=kwargs.get("user"), fields=fields)
        except LoyaltyError as exc:
            raise refusal(exc) from exc


class PoolCodeResource(SpreadsheetResource):
    """One code per row, into the pool named in the `pool` column. Codes already in that pool are
    skipped; a code that is some member's coupon already is refused."""

    pool = Field(attribute="pool", column_name="pool", widget=CodeWidget(CodePool))

    class Meta:
        model = PoolCode
        fields = ("pool", "code")
        import_id_fields = ("pool", "code")
        skip_unchanged = True
        report_skipped = True

    def save_instance(self, instance, is_create, row, **kwargs):
        try:
            instance.pk = services.add_pool_code(pool=instance.pool, code=instance.code, actor=kwargs.get("user")).pk
        except LoyaltyError as exc:
            raise refusal(exc) from exc
