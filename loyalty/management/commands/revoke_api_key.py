from django.core.management.base import BaseCommand, CommandError

from loyalty.services.storefronts import revoke_api_key
from members.errors import LoyaltyError


class Command(BaseCommand):
    help = "Revoke a storefront API key by its prefix (the part before the dot). This cannot be undone."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix, **options):
        try:
            api_key = revoke_api_key(prefix=prefix)
        except LoyaltyError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Revoked API key {api_key.prefix} of storefront {api_key.storefront.code!r}.")
