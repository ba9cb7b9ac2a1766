import json
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.analytics import text
from loyalty.analytics.calibration import TargetError, parse_targets
from loyalty.analytics.report import ReportOptions, as_json, build_report
from loyalty.config import current_config


class Command(BaseCommand):
    help = (
        "The program design reports (docs/seed-method.md): tier distribution, threshold calibration, RFM "
        "quadrants, weight completion by tier, time-to-tier forecasts, points economics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the whole report as JSON.")
        parser.add_argument("--as-of", help="ISO 8601 date-time with offset (default: now).")
        parser.add_argument(
            "--targets", help="Calibration target shares in percent, lowest tier first: 45/25/14/8/5/3."
        )
        parser.add_argument("--top-share", type=Decimal, help="Target share of the top three tiers, percent (20).")
        parser.add_argument("--rfm-window-days", type=int, default=365)
        parser.add_argument("--rfm-cut", help="FREQUENCY,MONETARY: cut the quadrants there instead of at the medians.")
        parser.add_argument("--weights-days", type=int, default=90, help="Program days up to today for step 7.")

    def handle(self, *args, **options):
        report = build_report(self._options(options))
        if options["json"]:
            data = as_json(report)
            data.pop("seconds")
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self.stdout.write("\n".join(text.render(report)))

    def _options(self, options) -> ReportOptions:
        fields = {"rfm_window_days": options["rfm_window_days"], "weights_days": options["weights_days"]}
        if options["rfm_window_days"] < 1 or options["weights_days"] < 1:
            raise CommandError("--rfm-window-days and --weights-days must be at least 1.")
        if options["as_of"]:
            moment = parse_datetime(options["as_of"])
            if moment is None or timezone.is_naive(moment):
                raise CommandError("--as-of must be an ISO 8601 date-time with an offset.")
            fields["as_of"] = moment
        if options["targets"]:
            try:
                fields["target_shares"] = parse_targets(options["targets"], len(current_config().ladder))
            except TargetError as exc:
                raise CommandError(str(exc)) from exc
        if options["top_share"] is not None:
            fields["top_share_target"] = options["top_share"] / 100
        if options["rfm_cut"]:
            try:
                frequency, monetary = (Decimal(part) for part in options["rfm_cut"].split(","))
            except (ValueError, InvalidOperation) as exc:
                raise CommandError("--rfm-cut is FREQUENCY,MONETARY, e.g. 3,500.") from exc
            fields["rfm_cut_frequency"], fields["rfm_cut_monetary"] = frequency, monetary
        return ReportOptions(**fields)
