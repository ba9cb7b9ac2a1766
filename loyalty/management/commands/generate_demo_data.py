from django.core.management.base import BaseCommand, CommandError

from loyalty.demo import DemoSummary, generate_demo_data
from loyalty.demo.generator import DEFAULT_CHUNK_SIZE


class Command(BaseCommand):
    help = (
        "Add N demo members with realistic histories (purchases, returns, tasks, redemptions), written "
        "through the program's current rules. Deterministic for a seed; running again adds N more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="Members per transaction.")

    def handle(self, *args, members, seed, chunk_size, **options):
        if members < 1 or chunk_size < 1:
            raise CommandError("--members and --chunk-size must be positive.")
        summary = generate_demo_data(members=members, seed=seed, chunk_size=chunk_size, progress=self._progress)
        self._report(summary)

    def _progress(self, done: int, total: int, elapsed: float) -> None:
        self.stdout.write(f"  {done:,}/{total:,} members ({elapsed:.0f} s)")

    def _report(self, summary: DemoSummary) -> None:
        self.stdout.write(self.style.SUCCESS(f"Generated {summary.members:,} members in {summary.seconds:.1f} s"))
        for model, count in summary.row_counts():
            self.stdout.write(f"  {model._meta.verbose_name_plural:<20} {count:>12,}")
        self.stdout.write("Tiers of the generated members:")
        for tier, count in summary.tier_counts():
            self.stdout.write(f"  {tier.name:<20} {count:>10,}  {100 * count / summary.members:5.1f}%")
