"""python manage.py webhook_schemas [--markdown]: the JSON Schema of every delivery's body, by type
(for receivers that generate code or validate), or docs/webhooks.md's catalogue section."""

import json

from django.core.management.base import BaseCommand

from webhooks import catalogue


class Command(BaseCommand):
    help = "Print the JSON Schema of each webhook event type's body (or, with --markdown, the docs' catalogue)."

    def add_arguments(self, parser):
        parser.add_argument("--markdown", action="store_true")

    def handle(self, *args, markdown, **options):
        if markdown:
            self.stdout.write(catalogue.markdown())
            return
        schemas = {event_type: catalogue.envelope(event_type) for event_type in catalogue.all_types()}
        self.stdout.write(json.dumps(schemas, indent=2))
