"""The campaigns' scheduled jobs, run by the loyalty job machinery (JobRun per period, member-id chunks)."""

from __future__ import annotations

from rewards.jobs import ScheduledJob

from . import selectors, services

JOBS = {"store_member_rfm": ScheduledJob("%Y-%m-%d", services.store_member_rfm, selectors.preview_store_rfm)}

# (job, minute, hour, day of month) in the program time zone: after the night's expiry and benefit jobs.
SCHEDULES = [("store_member_rfm", "30", "5", "*")]
