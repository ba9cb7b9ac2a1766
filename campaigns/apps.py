from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Tags, segments and campaigns (on the roadmap; registered so migrations can anticipate it)."""

    name = "campaigns"
    verbose_name = "Campaigns"
