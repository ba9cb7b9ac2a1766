"""Names people read, in the reader's language. Configuration names are data (an operator types
them), but the ones a fresh install ships with (docs/examples/default-program.json, the built-in
event types) are English sentences: they are listed here for translation, and `display_name` shows
a name in the reader's language when it is still the shipped one. Apps add their own shipped names
(`builtin_names.update`) in AppConfig.ready()."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

builtin_names: set[str] = {
    # The default program's earning rules; the built-in event types' names are added in
    # LoyaltyConfig.ready() from loyalty.models.events.BUILTIN_EVENT_TYPES.
    gettext_noop("Platform activity"),
    gettext_noop("Daily login"),
    gettext_noop("Partner points at 1:1"),
    gettext_noop("Completed profile"),
    gettext_noop("Purchase: 1 growth and 1 point per yuan"),
    gettext_noop("Daily check-in"),
    gettext_noop("Photo review"),
    gettext_noop("Invited a friend"),
    gettext_noop("Review"),
    gettext_noop("Unreasonable complaint"),
    gettext_noop("Rule violation"),
}


def display_name(name: str) -> str:
    return gettext(name) if name in builtin_names else name
