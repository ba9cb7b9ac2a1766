from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey


class Storefront(models.Model):
    """A client of the storefront API (web shop, app, POS, mini-program). Its code is the `source` of
    the events it sends, so event ids are scoped to it and survive key rotation."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("storefront")
        verbose_name_plural = _("storefronts")

    def __str__(self):
        return self.name or self.code


class StorefrontAPIKey(AbstractAPIKey):
    """Hashed API key of a storefront; a storefront may hold several while rotating them."""

    storefront = models.ForeignKey(
        Storefront, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("storefront")
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("storefront API key")
        verbose_name_plural = _("storefront API keys")
