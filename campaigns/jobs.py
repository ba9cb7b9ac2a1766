"""The campaigns' scheduled job, registered on the engine's job machinery (loyalty.extensions.jobs):
rule tags and segments refreshed every night at 06:00, after the members' RFM is stored (05:30), so
"dormant for 90 days" is right the morning it becomes true."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import extensions, job_summaries
from loyalty.extensions import Schedule, ScheduledJob

from . import triggers
from .models import MemberTag
from .services import refresh


def preview_refresh(as_of: datetime) -> list[dict]:
    """What a refresh as of then would look at (the dry run shows what it would change)."""
    return [
        job_summaries.line(
            "segments_to_refresh",
            tags=len(refresh.rule_tags()),
            segments=len(refresh.live_versions()),
            expiring=MemberTag.objects.filter(expires_at__lte=as_of).count(),
        )
    ]


def register() -> None:
    job_summaries.register(
        {
            "campaign_occurrences": lambda p: gettext("Campaign %(campaign)s: %(members)s members to reward.") % p,
            "segments_to_refresh": lambda p: (
                gettext("%(tags)s rule tags and %(segments)s segments to refresh; %(expiring)s expired tags to remove.")
                % p
            ),
        }
    )
    extensions.jobs.register(
        "refresh_segments",
        ScheduledJob(
            label=_("Refresh tags and segments"),
            description=_("Rule tags and dynamic segments follow their definitions; expired tags are removed."),
            period_format="%Y-%m-%d",
            run_chunk=refresh.refresh_chunk,
            preview=preview_refresh,
            schedule=Schedule(minute="0", hour="6"),
            on_finish=refresh.finish_run,
        ),
        order=90,
    )
    extensions.jobs.register(
        "campaign_date_triggers",
        ScheduledJob(
            label=_("Campaign date triggers"),
            description=_("Birthday, anniversary and dormancy campaigns reward the members whose day it is."),
            period_format="%Y-%m-%d",
            run_chunk=triggers.date_triggers_chunk,
            preview=triggers.preview_date_triggers,
            schedule=Schedule(minute="30", hour="6"),
        ),
        order=91,
    )
    extensions.jobs.register(
        "campaign_grants",
        ScheduledJob(
            label=_("Campaign grants"),
            description=_("Grant campaigns whose moment has come give their reward to their audience, then end."),
            period_format="%Y-%m-%d %H:00",
            run_chunk=triggers.grants_chunk,
            preview=triggers.preview_grants,
            schedule=Schedule(minute="5", hour="*"),
            on_finish=triggers.finish_grants,
        ),
        order=92,
    )
