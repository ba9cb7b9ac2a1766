"""A fresh install has a small points mall: coupon templates, rewards and tier benefits in the spirit of
the source articles (monthly free shipping for Gold and up, birthday gifts, higher referral rebates at
the top). Operators change it all in the admin or with `program import`."""

from decimal import Decimal

from django.db import migrations

TEMPLATES = [
    dict(code="free-shipping", name="Free shipping", kind="free_shipping", value=Decimal("0"), valid_days=31),
    dict(code="ten-off-99", name="¥10 off orders from ¥99", kind="amount_off", value=Decimal("10"),
         min_spend=Decimal("99"), valid_days=30),
    dict(code="birthday-20-off", name="Birthday: ¥20 off orders from ¥100", kind="amount_off",
         value=Decimal("20"), min_spend=Decimal("100"), valid_days=30),
    dict(code="cash-voucher", name="Points cash voucher", kind="amount_off", value=Decimal("0"), valid_days=90,
         description="Issued by points-to-cash rewards with the reward's cash value."),
]

REWARDS = [
    dict(code="free-shipping", name="Free-shipping coupon", kind="coupon", points_cost=300, cash_value=Decimal("3"),
         template="free-shipping", category="coupons", sort_order=10, per_member_limit=4, limit_period="month"),
    dict(code="coupon-10", name="¥10 off from ¥99", kind="coupon", points_cost=1000, cash_value=Decimal("10"),
         template="ten-off-99", category="coupons", sort_order=20, per_member_limit=5, limit_period="month"),
    dict(code="cash-5", name="¥5 cash voucher", kind="points_to_cash", points_cost=500, cash_value=Decimal("5"),
         template="cash-voucher", category="cash", sort_order=30, per_member_limit=10, limit_period="month"),
    dict(code="mug", name="Logo mug", kind="goods", points_cost=2000, cash_value=Decimal("18"), stock=200,
         category="goods", sort_order=40, per_member_limit=1, limit_period="year",
         description="Ceramic, 350 ml. Ships within 7 days."),
    dict(code="umbrella", name="Folding umbrella", kind="goods", points_cost=4500, cash_value=Decimal("39"),
         stock=50, category="goods", sort_order=50, per_member_limit=1, limit_period="ever"),
]

BENEFITS = [
    dict(code="member-price", name="Member prices", tiers=["silver", "gold", "platinum", "diamond"], sort_order=10,
         description="Member prices on selected items."),
    dict(code="birthday-gift", name="Birthday gift", tiers=["silver", "gold", "platinum", "diamond"], sort_order=20,
         entitlement="birthday_gift", points=200, coupon_template="birthday-20-off", coupon_quantity=1,
         description="200 points and a ¥20 coupon in your birthday month."),
    dict(code="free-shipping-monthly", name="2 free-shipping coupons a month", tiers=["gold", "platinum", "diamond"],
         sort_order=30, entitlement="monthly_coupons", coupon_template="free-shipping", coupon_quantity=2,
         description="Two free-shipping coupons on the 1st of every month."),
    dict(code="fast-refund", name="Fast refund", tiers=["gold", "platinum", "diamond"], sort_order=40,
         description="Refunds before the return arrives."),
    dict(code="referral-5", name="5% referral rebate", tiers=["platinum"], sort_order=50,
         entitlement="referral_rebate", rebate_percent=Decimal("5")),
    dict(code="referral-10", name="10% referral rebate", tiers=["diamond"], sort_order=50,
         entitlement="referral_rebate", rebate_percent=Decimal("10")),
    dict(code="dedicated-service", name="Dedicated service line", tiers=["diamond"], sort_order=60),
]


def create_default_catalog(apps, schema_editor):
    CouponTemplate = apps.get_model("rewards", "CouponTemplate")
    Reward = apps.get_model("rewards", "Reward")
    Benefit = apps.get_model("rewards", "Benefit")
    Tier = apps.get_model("loyalty", "Tier")
    if CouponTemplate.objects.exists() or Reward.objects.exists() or Benefit.objects.exists():
        return
    tiers = {tier.code: tier for tier in Tier.objects.all()}
    templates = {item["code"]: CouponTemplate.objects.create(**item) for item in TEMPLATES}
    for item in REWARDS:
        item = dict(item)
        template = item.pop("template", None)
        Reward.objects.create(**item, coupon_template=templates.get(template))
    for item in BENEFITS:
        item = dict(item)
        tier_codes = item.pop("tiers")
        template = item.pop("coupon_template", None)
        benefit = Benefit.objects.create(**item, coupon_template=templates.get(template))
        benefit.tiers.set([tiers[code] for code in tier_codes if code in tiers])


class Migration(migrations.Migration):
    dependencies = [("rewards", "0001_initial"), ("loyalty", "0003_default_program")]

    operations = [migrations.RunPython(create_default_catalog, migrations.RunPython.noop)]
