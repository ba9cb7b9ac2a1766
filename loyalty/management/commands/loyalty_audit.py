from django.core.management.base import BaseCommand, CommandError

from loyalty.audit import audit
from loyalty.services.balances import rebuild_cached_balances


class Command(BaseCommand):
    help = (
        "Check that every member's cached balances equal the ledger sums, that lot remainders agree with "
        "what was taken from them, that nothing is negative and that tiers match their history. "
        "Exits non-zero and lists the offenders otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="Show at most this many offenders per check.")
        parser.add_argument(
            "--rebuild-caches",
            action="store_true",
            help="First recompute cached member balances from the ledger lots, then audit.",
        )

    def handle(self, *args, limit, rebuild_caches, **options):
        if rebuild_caches:
            self.stdout.write(f"Rebuilt cached balances of {rebuild_cached_balances()} members.")
        findings = audit(limit=limit)
        for finding in findings:
            self.stdout.write(f"{finding.check}: member {finding.subject}: {finding.detail}")
        if findings:
            raise CommandError(
                f"loyalty_audit found {len(findings)} inconsistencies (showing up to {limit} per check)."
            )
        self.stdout.write(self.style.SUCCESS("loyalty_audit: ledgers, lots, cached balances and tiers agree."))
