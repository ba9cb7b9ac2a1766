"""`manage.py check --deploy`: the unsubscribe links in members' email must reach this server over
HTTPS (RFC 8058's one-click unsubscribe requires it), not the development default."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def site_url_is_public_https(app_configs, **kwargs):
    url = settings.NOTIFICATIONS_SITE_URL
    if url.startswith("https://") and "127.0.0.1" not in url and "localhost" not in url:
        return []
    return [
        Error(
            f"NOTIFICATIONS_SITE_URL is {url!r}: members' unsubscribe links would not reach this server.",
            hint="Set it to the https:// address members reach this server at (README, settings).",
            id="notifications.E001",
        )
    ]
