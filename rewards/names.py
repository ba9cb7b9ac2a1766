"""The names of the mall's configuration a fresh install ships with (docs/examples/default-program.json),
for translation: see loyalty.names."""

from django.utils.translation import gettext_noop

BUILTIN_NAMES = (
    # Coupon templates.
    gettext_noop("Birthday: ¥20 off orders from ¥100"),
    gettext_noop("Points cash voucher"),
    gettext_noop("Free shipping"),
    gettext_noop("¥10 off orders from ¥99"),
    # Rewards.
    gettext_noop("¥5 cash voucher"),
    gettext_noop("¥10 off from ¥99"),
    gettext_noop("Free-shipping coupon"),
    gettext_noop("Logo mug"),
    gettext_noop("Folding umbrella"),
    # Benefits.
    gettext_noop("Birthday gift"),
    gettext_noop("Dedicated service line"),
    gettext_noop("Fast refund"),
    gettext_noop("2 free-shipping coupons a month"),
    gettext_noop("Member prices"),
    # xgettext: no-python-format
    gettext_noop("10% referral rebate"),
    # xgettext: no-python-format
    gettext_noop("5% referral rebate"),
)
