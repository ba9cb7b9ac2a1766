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
        # Lazily translated, as every model's; the library's stub types its own Meta's names as str.
        verbose_name = _("storefront API key")  # type: ignore[assignment]
        verbose_name_plural = _("storefront API keys")  # type: ignore[assignment]


def _name_library_fields(model, texts: dict) -> None:
    """The library names its fields in English only (and words their help texts for developers);
    these replace them on the model's own copies of the fields, so the admin speaks the operator's
    language."""
    for name, (verbose_name, help_text) in texts.items():
        field = model._meta.get_field(name)
        field.verbose_name, field.help_text = verbose_name, help_text


_name_library_fields(
    StorefrontAPIKey,
    {
        "prefix": (_("prefix"), ""),
        "created": (_("created at"), ""),
        "name": (_("name"), _("Which storefront and what for, e.g. 'web shop 2026'. Need not be unique.")),
        "revoked": (_("revoked"), _("A revoked key stops working within seconds. Revoking cannot be undone.")),
        "expiry_date": (_("expires at"), _("Clients cannot use the key after this moment.")),
    },
)
