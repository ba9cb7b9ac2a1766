from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class Storefront(models.Model):
    """A client of the storefront API (web shop, app, POS, mini-program). Its code is the `source` of
    the events it sends, so event ids are scoped to it and survive key rotation."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name or self.code


class StorefrontAPIKey(AbstractAPIKey):
    """Hashed API key of a storefront; a storefront may hold several while rotating them."""

    storefront = models.ForeignKey(Storefront, on_delete=models.PROTECT, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "storefront API key"
        verbose_name_plural = "storefront API keys"
