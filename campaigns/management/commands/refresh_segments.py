from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.errors import UnknownSegment
from campaigns.services import refresh_everything, refresh_segment


class Command(BaseCommand):
    help = (
        "Recompute rule tags and segments now (the nightly refresh_segments job's work) and print what "
        "changed: every rule tag and live segment with the expired tags, or one segment."
    )

    def add_arguments(self, parser):
        parser.add_argument("--segment", help="Only this dynamic segment (its current version).")
        parser.add_argument("--as-of", help="ISO 8601 date-time with offset (default: now).")
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; write nothing.")

    def handle(self, *args, segment, as_of, dry_run, **options):
        moment = timezone.now()
        if as_of:
            moment = parse_datetime(as_of)
            if moment is None or timezone.is_naive(moment):
                raise CommandError("--as-of must be an ISO 8601 date-time with an offset, e.g. 2026-12-01T06:00+08:00.")
        if segment:
            try:
                _, changes = refresh_segment(code=segment, as_of=moment, dry_run=dry_run)
            except UnknownSegment as unknown:
                raise CommandError(unknown.message) from None
        else:
            changes = refresh_everything(as_of=moment, dry_run=dry_run)
        for key in sorted({*changes.entered, *changes.left}):
            kind, code = key.split(":", 1)
            self.stdout.write(f"{kind} {code}: {changes.entered.get(key, 0)} entered, {changes.left.get(key, 0)} left")
        if not segment:
            self.stdout.write(f"expired tags removed: {changes.expired_tags}")
        if not changes.members_changed:
            self.stdout.write("Nothing changed.")
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
