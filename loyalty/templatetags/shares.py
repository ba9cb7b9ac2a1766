"""A share (0..1) as a percentage with one decimal, the way the reports print it."""

from django import template

from loyalty.analytics.distribution import percent as as_percent

register = template.Library()


@register.filter
def percent(share):
    return "—" if share is None or share == "" else as_percent(share)
