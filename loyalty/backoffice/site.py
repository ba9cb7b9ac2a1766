from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

from . import dashboard_views, documentation, navigation, program_design


class BackofficeSite(admin.AdminSite):
    site_header = _("Loyalty back office")
    site_title = _("Loyalty back office")
    index_title = _("Dashboard")
    index_template = "admin/dashboard.html"
    # The changelists need the width more than a second copy of the dashboard's app list.
    enable_nav_sidebar = False
    # No public site: the header links the API documentation instead (templates/admin/base_site.html).
    site_url = None

    def index(self, request, extra_context=None):
        groups = navigation.task_groups(request, self.get_app_list(request))
        extra = {**dashboard_views.context(request), "task_groups": groups, **(extra_context or {})}
        return super().index(request, extra_context=extra)

    def get_urls(self):
        return [
            path("dashboard/refresh/", self.admin_view(dashboard_views.refresh), name="dashboard_refresh"),
            *program_design.urls(self),
            *documentation.urls(self),
            *super().get_urls(),
        ]
