"""The libraries' own admin pages (Celery beat schedules, login lockout records) with a permission
on every action. Their actions declare none, so Django offers them to anyone who may view the list:
running a scheduled task or clearing lockout records must need the right to change or delete."""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask


class GuardedPeriodicTaskAdmin(PeriodicTaskAdmin):
    @admin.action(description=PeriodicTaskAdmin.enable_tasks.short_description, permissions=["change"])
    def enable_tasks(self, request, queryset):
        return super().enable_tasks(request, queryset)

    @admin.action(description=PeriodicTaskAdmin.disable_tasks.short_description, permissions=["change"])
    def disable_tasks(self, request, queryset):
        return super().disable_tasks(request, queryset)

    @admin.action(description=PeriodicTaskAdmin.toggle_tasks.short_description, permissions=["change"])
    def toggle_tasks(self, request, queryset):
        return super().toggle_tasks(request, queryset)

    @admin.action(description=PeriodicTaskAdmin.run_tasks.short_description, permissions=["change"])
    def run_tasks(self, request, queryset):
        return super().run_tasks(request, queryset)


class GuardedAccessAttemptAdmin(AccessAttemptAdmin):
    @admin.action(description=AccessAttemptAdmin.cleanup_expired_attempts.short_description, permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        return super().cleanup_expired_attempts(request, queryset)


def guard(site: admin.AdminSite) -> None:
    for model, model_admin in ((PeriodicTask, GuardedPeriodicTaskAdmin), (AccessAttempt, GuardedAccessAttemptAdmin)):
        site.unregister(model)
        site.register(model, model_admin)
