from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from . import dashboard_views, program_design


class BackofficeSite(admin.AdminSite):
    site_header = _("Loyalty back office")
    site_title = _("Loyalty back office")
    index_title = _("Dashboard")
    index_template = "admin/dashboard.html"
    # The changelists need the width more than a second copy of the dashboard's app list.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        return super().index(request, extra_context={**dashboard_views.context(request), **(extra_context or {})})

    def get_urls(self):
        return [
            path("dashboard/refresh/", self.admin_view(dashboard_views.refresh), name="dashboard_refresh"),
            *program_design.urls(self),
            *super().get_urls(),
        ]
