"""The admin login page as django-axes answers a locked-out login: the same page with why, instead
of the library's bare text."""

from __future__ import annotations

from axes.conf import settings
from axes.helpers import get_client_username, get_cool_off
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.shortcuts import render
from django.utils.translation import gettext as _


def locked_out_page(request, original_response=None, credentials=None):
    minutes = int(get_cool_off(request).total_seconds() // 60)
    username = get_client_username(request, credentials) or ""
    context = {
        **admin.site.each_context(request),
        "title": _("Log in"),
        "app_path": request.get_full_path(),
        # Unbound: validating it would try the password again.
        "form": AdminAuthenticationForm(request, initial={"username": username}),
        "lockout_message": _(
            "Too many failed logins (%(limit)s) for this account from your address. Try again in "
            "%(minutes)s minutes, or ask an administrator to unlock it."
        )
        % {"limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes},
    }
    return render(request, "admin/login_locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
