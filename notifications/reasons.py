"""Why a notification was suppressed, is waiting or failed: stored as a code, read in the reader's
language."""

from django.utils.translation import gettext_lazy as _

TOO_OLD = "too_old"
NO_ADDRESS = "no_address"
NOT_OPTED_IN = "not_opted_in"
MEMBER_INACTIVE = "member_inactive"
DAILY_CAP = "daily_cap"
QUIET_HOURS = "quiet_hours"
CHANNEL_OFF = "channel_off"
SEND_FAILED = "send_failed"
RETRYING = "retrying"

TEXTS = {
    TOO_OLD: _("the event was over a day old when it came through: no longer news"),
    NO_ADDRESS: _("the member has no email address"),
    NOT_OPTED_IN: _("the member has not opted in to marketing messages"),
    MEMBER_INACTIVE: _("the membership is frozen or closed"),
    DAILY_CAP: _("the member had the day's most marketing messages already"),
    QUIET_HOURS: _("waiting for the end of the quiet hours"),
    CHANNEL_OFF: _("the program no longer sends this kind on this channel"),
    SEND_FAILED: _("the mail server refused it"),
    RETRYING: _("sending failed; it is tried again"),
}


def reason_text(code: str) -> str:
    return str(TEXTS.get(code, code))
