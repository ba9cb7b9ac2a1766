from typing import cast

from django.db import transaction
from django.utils.text import slugify

from loyalty.models import Storefront, StorefrontAPIKey
from members.errors import InvalidInput


@transaction.atomic
def create_api_key(*, storefront_name: str, key_name: str = "") -> tuple[StorefrontAPIKey, str]:
    """A new key for the storefront called `storefront_name` (created if new). Returns the key row
    and the key itself, which is shown once and stored only hashed."""
    name = (storefront_name or "").strip()
    code = slugify(name)[:64]
    if not code:
        raise InvalidInput("A storefront name is required.", fields={"name": ["Letters or digits needed."]})
    storefront, _ = Storefront.objects.get_or_create(code=code, defaults={"name": name})
    key, secret = StorefrontAPIKey.objects.create_key(storefront=storefront, name=(key_name or name)[:50])
    return cast(StorefrontAPIKey, key), secret  # the manager's stub says AbstractAPIKey


@transaction.atomic
def revoke_api_key(*, prefix: str) -> StorefrontAPIKey:
    api_key = StorefrontAPIKey.objects.select_for_update().filter(prefix=prefix).first()
    if api_key is None:
        raise InvalidInput(f"No API key with prefix {prefix!r}.", fields={"prefix": ["Unknown key."]})
    api_key.revoked = True
    api_key.save(update_fields=["revoked"])
    return api_key
