from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    """Points mall, benefits and coupons (the rewards issue fills this in)."""

    name = "rewards"
    verbose_name = _("Rewards")
