from django import template

from loyalty.names import display_name as _display_name

register = template.Library()


@register.filter
def display_name(name):
    """A configuration name in the reader's language while it is still the one the program shipped with."""
    return _display_name(name) if isinstance(name, str) else name
