from django.core.management.base import BaseCommand, CommandError

from loyalty.services.storefronts import create_api_key
from members.errors import LoyaltyError


class Command(BaseCommand):
    help = "Create an API key for a storefront (created if new). The key is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Storefront name, e.g. 'web shop'; its slug scopes event ids.")

    def handle(self, *args, name, **options):
        try:
            api_key, key = create_api_key(storefront_name=name)
        except LoyaltyError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"API key {api_key.prefix} for storefront {api_key.storefront.code!r}; store it now, it is not shown again:"
        )
        self.stdout.write(key)
