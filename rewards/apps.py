from django.apps import AppConfig


class RewardsConfig(AppConfig):
    """Points mall, benefits and coupons (the rewards issue fills this in)."""

    name = "rewards"
    verbose_name = "Rewards"
