from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    """Tags, segments and campaigns (on the roadmap; registered so migrations can anticipate it)."""

    name = "campaigns"
    verbose_name = _("Campaigns")
