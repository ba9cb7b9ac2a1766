import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from loyalty.analytics.forecast import PersonaError, forecast, parse_persona
from loyalty.analytics.selectors.forecast import growth_program
from loyalty.calculations import local_day
from loyalty.config import current_config


class Command(BaseCommand):
    help = (
        "Days and money to every tier for a persona, simulated day by day with the live rules: --persona "
        '\'{"daily_spend": "100", "events_per_day": {"check_in": 1, "review": 3}}\'.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--persona", required=True, help="JSON: daily_spend and events_per_day.")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--start", type=date.fromisoformat, help="Day 1 (default: today, program time zone).")

    def handle(self, *args, **options):
        config = current_config()
        try:
            chosen = parse_persona(_load(options["persona"]), config.event_types)
        except PersonaError as exc:
            raise CommandError(str(exc)) from exc
        program = growth_program()
        result = forecast(chosen, program, options["start"] or local_day(timezone.now(), program.zone))
        if options["json"]:
            self.stdout.write(_dumps(result.as_json()))
            return
        self.stdout.write(f"Growth on day 1: {result.growth_per_day:,}")
        for code, days in result.days_to_tier.items():
            money = result.spend_to_tier[code]
            reached = "never (not within 10 years)" if days is None else f"day {days:,}, having spent {money:,}"
            self.stdout.write(f"  {code:<12} {reached}")


def _load(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--persona is not valid JSON: {exc}") from exc


def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False)
