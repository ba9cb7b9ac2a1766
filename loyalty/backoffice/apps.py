from django.contrib.admin.apps import AdminConfig


class BackofficeAdminConfig(AdminConfig):
    """django.contrib.admin with our site as the default, so every `admin.register` lands on it."""

    default_site = "loyalty.backoffice.site.BackofficeSite"
