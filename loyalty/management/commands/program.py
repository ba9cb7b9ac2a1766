import json
import sys

from django.core.management.base import BaseCommand, CommandError

from loyalty.program_file import parse_program
from loyalty.selectors import export_program
from loyalty.services.program import apply_program
from members.errors import InvalidInput


class Command(BaseCommand):
    help = "Export the program configuration as JSON, or import (validate and apply) a program file."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("export", help="Print the whole program as JSON.")
        importer = actions.add_parser("import", help="Validate and apply a program file in one transaction.")
        importer.add_argument("file", help="Path to the JSON file, or - for standard input.")
        importer.add_argument("--dry-run", action="store_true", help="Print the changes and write nothing.")

    def handle(self, *args, action, **options):
        if action == "export":
            self.stdout.write(json.dumps(export_program(), ensure_ascii=False, indent=2))
            return
        raw = self._read(options["file"])
        try:
            changes = apply_program(document=parse_program(raw), dry_run=options["dry_run"])
        except InvalidInput as exc:
            problems = "".join(f"\n  {path}: {' '.join(messages)}" for path, messages in exc.fields.items())
            raise CommandError(f"{exc.message} Nothing was written.{problems}") from None
        verb = "Would change" if options["dry_run"] else "Changed"
        if not changes:
            self.stdout.write("No changes: the program already matches the file.")
        for line in changes:
            self.stdout.write(f"{verb}: {line}")
        if changes and options["dry_run"]:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))

    def _read(self, path: str):
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as file:
                    text = file.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        except (RecursionError, ValueError):
            raise CommandError(f"{path} is not valid JSON: nested too deeply or a number too long.") from None
