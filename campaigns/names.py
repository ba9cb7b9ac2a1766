"""The names of the shipped tags (and of the demo's tag and segments), marked for translation:
loyalty.names shows a shipped name in the reader's language, an operator's own name as written."""

from django.utils.translation import gettext_noop

BUILTIN_NAMES = (
    gettext_noop("New in the last 30 days"),
    gettext_noop("Dormant 90 days"),
    gettext_noop("High value"),
    gettext_noop("Birthday this month"),
    gettext_noop("Frequent returner"),
    # The demo's (campaigns.demo).
    gettext_noop("VIP event guest"),
    gettext_noop("Gold and up"),
    gettext_noop("Win back: dormant, silver and up"),
    gettext_noop("Birthday in the next 30 days"),
)
