"""python manage.py webhook_endpoint add URL --events "tier.*,points.expiring" [--secret whsec_…]
                                   list | rotate-secret ID | disable ID | pause ID | resume ID | test ID

Run on the server, as the system (no staff permission applies). `add` and `rotate-secret` print the
endpoint id and the secret on their last two lines, for scripts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from members.errors import LoyaltyError
from webhooks import selectors, services
from webhooks.models import Endpoint


class Command(BaseCommand):
    help = "Manage outbound webhook endpoints (docs/webhooks.md)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="Register an endpoint; prints its id and secret.")
        add.add_argument("url")
        add.add_argument("--events", required=True, help='Comma-separated types or wildcards: "tier.*,points.expiring"')
        add.add_argument("--secret", help="whsec_… (default: a new random one)")
        add.add_argument("--description", default="")
        add.add_argument("--personal-data", action="store_true", help="Include members' email and phone.")
        actions.add_parser("list", help="Every endpoint with its status and backlog.")
        for name, text in (
            ("rotate-secret", "A new secret; the old one stays valid for WEBHOOK_SECRET_OVERLAP_HOURS."),
            ("disable", "No new deliveries."),
            ("pause", "Hold deliveries."),
            ("resume", "Send again, the waiting deliveries first."),
            ("test", "Send a webhook.test event."),
        ):
            actions.add_parser(name, help=text).add_argument("id", type=int)

    def handle(self, *args, action, **options):
        try:
            getattr(self, action.replace("-", "_"))(**options)
        except LoyaltyError as error:
            raise CommandError(error.message) from None

    def add(self, *, url, events, secret, description, personal_data, **options):
        endpoint, secret = services.create_endpoint(
            url=url, event_types=events, description=description, secret=secret, include_personal_data=personal_data
        )
        self.stdout.write(f"Endpoint {endpoint.pk} → {endpoint.url} for {', '.join(endpoint.event_types)}.")
        self.stdout.write(str(endpoint.pk))
        self.stdout.write(secret)

    def list(self, **options):
        endpoints = list(Endpoint.objects.order_by("id"))
        health = selectors.health([e.pk for e in endpoints])
        for endpoint in endpoints:
            status = endpoint.status + (f" ({endpoint.status_reason})" if endpoint.status_reason else "")
            self.stdout.write(
                f"{endpoint.pk}\t{status}\t{endpoint.url}\t{','.join(endpoint.event_types)}"
                f"\tbacklog {health[endpoint.pk].backlog}"
            )
        if not endpoints:
            self.stdout.write("No webhook endpoints.")

    def rotate_secret(self, *, id, **options):
        endpoint = self._endpoint(id)
        secret = services.rotate_secret(endpoint=endpoint)
        self.stdout.write(
            f"Rotated the secret of endpoint {endpoint.pk}; the previous one stays valid for the overlap."
        )
        self.stdout.write(str(endpoint.pk))
        self.stdout.write(secret)

    def disable(self, *, id, **options):
        services.disable_endpoint(endpoint=self._endpoint(id))
        self.stdout.write(f"Disabled endpoint {id}.")

    def pause(self, *, id, **options):
        services.pause_endpoint(endpoint=self._endpoint(id))
        self.stdout.write(f"Paused endpoint {id}.")

    def resume(self, *, id, **options):
        services.resume_endpoint(endpoint=self._endpoint(id))
        self.stdout.write(f"Resumed endpoint {id}.")

    def test(self, *, id, **options):
        delivery = services.send_test_event(endpoint=self._endpoint(id))
        self.stdout.write(f"Test event {delivery.event_id} queued for endpoint {id}.")

    @staticmethod
    def _endpoint(pk: int) -> Endpoint:
        try:
            return Endpoint.objects.get(pk=pk)
        except Endpoint.DoesNotExist:
            raise CommandError(f"No webhook endpoint {pk}.") from None
