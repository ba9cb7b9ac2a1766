"""Numbers with thousands separators without turning on USE_THOUSAND_SEPARATOR for every form."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def grouped(value):
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value
