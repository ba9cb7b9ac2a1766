"""Reads of the campaigns app: members by their stored RFM, for targeting."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from loyalty.analytics import rfm
from members.models import Member


def members_in_quadrant(*, quadrant: str, cut_frequency: Decimal, cut_monetary: Decimal) -> QuerySet[Member]:
    """Members whose stored RFM falls in `quadrant` (rfm.QUADRANTS) of the cut: high is strictly above."""
    high_spend = quadrant in (rfm.HIGH_SPEND_HIGH_FREQUENCY, rfm.HIGH_SPEND_LOW_FREQUENCY)
    high_frequency = quadrant in (rfm.HIGH_SPEND_HIGH_FREQUENCY, rfm.LOW_SPEND_HIGH_FREQUENCY)
    spend = {"rfm__monetary__gt" if high_spend else "rfm__monetary__lte": cut_monetary}
    frequency = {"rfm__frequency__gt" if high_frequency else "rfm__frequency__lte": cut_frequency}
    return Member.objects.filter(**spend, **frequency)
