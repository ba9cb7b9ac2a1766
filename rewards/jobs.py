"""The rewards' scheduled jobs, registered on the engine's job machinery (loyalty.extensions.jobs).
Benefits follow the 04:00 tier recalculation on the 1st, so members get what their new tier gives."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import extensions, job_summaries
from loyalty.extensions import Schedule, ScheduledJob
from loyalty.names import display_name

from . import selectors
from .services import bulk


def _register_summaries() -> None:
    """How the rewards jobs' dry runs read (loyalty.job_summaries)."""
    job_summaries.register(
        {
            "monthly_benefit": lambda p: (
                gettext("%(benefit)s: %(eligible)s members in its tiers, %(done)s already granted for %(period)s.")
                % {**p, "benefit": display_name(p["benefit"])}
            ),
            "no_monthly_benefits": lambda p: gettext("No active monthly benefits."),
            "birthday_gift": lambda p: (
                gettext("%(benefit)s: %(eligible)s members with a birthday this month, %(done)s already granted.")
                % {**p, "benefit": display_name(p["benefit"])}
            ),
            "no_birthday_gifts": lambda p: gettext("No active birthday gifts."),
            "coupons_to_expire": lambda p: gettext("%(count)s active coupons would expire.") % p,
            "holds_to_release": lambda p: gettext("%(holds)s expired holds (%(points)s points) would be released.") % p,
        }
    )


def register() -> None:
    _register_summaries()
    extensions.jobs.register(
        "issue_benefits",
        ScheduledJob(
            label=_("Issue monthly benefits"),
            description=_("Each member gets this month's coupons of their tier's monthly benefits."),
            period_format="%Y-%m",
            run_chunk=bulk.issue_monthly_benefits,
            preview=selectors.preview_monthly_benefits,
            schedule=Schedule(minute="0", hour="5", day_of_month="1"),
        ),
        order=50,
    )
    extensions.jobs.register(
        "issue_birthday_gifts",
        ScheduledJob(
            label=_("Issue birthday gifts"),
            description=_("Members in their birthday month get their tier's birthday gift, once a year."),
            period_format="%Y-%m-%d",
            run_chunk=bulk.issue_birthday_gifts,
            preview=selectors.preview_birthday_gifts,
            schedule=Schedule(minute="15", hour="5"),
        ),
        order=60,
    )
    extensions.jobs.register(
        "expire_coupons",
        ScheduledJob(
            label=_("Expire coupons"),
            description=_("Unused coupons past their validity become expired."),
            period_format="%Y-%m-%d",
            run_chunk=bulk.expire_coupons,
            preview=selectors.preview_expire_coupons,
            schedule=Schedule(minute="45", hour="3"),
        ),
        order=70,
    )
    extensions.jobs.register(
        "release_expired_holds",
        ScheduledJob(
            label=_("Release expired points holds"),
            description=_("Points held for orders that were never captured go back to the members."),
            period_format="%Y-%m-%dT%H",
            run_chunk=bulk.release_expired_holds,
            preview=selectors.preview_expired_holds,
            schedule=Schedule(minute="10", hour="*"),
        ),
        order=80,
    )
