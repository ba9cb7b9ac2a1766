"""A seeded random population for the equivalence tests, and the definitions they evaluate."""

from __future__ import annotations

from loyalty.analytics import rfm
from tests.helpers import local

AS_OF = local(2026, 12, 7, 9, 30)  # a Monday morning in Shanghai

DEFINITIONS = [
    {"tier": {"at_least": "gold"}},
    {"tier": {"in": ["normal", "silver"]}},
    {"tag": "vip"},
    {"tag": {"has_not": "vip"}},
    {"rfm_quadrant": rfm.HIGH_SPEND_HIGH_FREQUENCY},
    {"rfm_quadrant": [rfm.LOW_SPEND_HIGH_FREQUENCY, rfm.HIGH_SPEND_LOW_FREQUENCY]},
    {"recency_days": {"lte": 30}},
    {"frequency": {"gte": 3, "lt": 8}},
    {"monetary": {"gt": "500.50"}},
    {"days_since_last_purchase": {"gte": 60}},
    {"days_since_last_activity": {"lte": 7}},
    {"purchases_in_days": {"days": 90, "count": {"gte": 2}}},
    {"purchases_in_days": {"days": 30, "amount": {"gte": "300"}, "count": {"lte": 5}}},
    {"returns_in_days": {"days": 180, "count": {"gte": 1}, "share_of_purchases": {"gte": "0.3"}}},
    {"joined_within_days": 45},
    {"birthday_within_days": 40},
    {"birthday_month": "current"},
    {"status": {"in": ["active", "frozen"]}},
    {"points_available": {"gte": 500, "lte": 4000}},
    {"growth_value": {"gt": 6000}},
    {"has_referrer": True},
    {"all": [{"tier": {"at_least": "silver"}}, {"days_since_last_purchase": {"gte": 30}}, {"not": {"tag": "vip"}}]},
    {"any": [{"not": {"has_referrer": False}}, {"all": [{"tag": "vip"}, {"frequency": {"gte": 5}}]}]},
    {"not": {"any": [{"birthday_within_days": 10}, {"purchases_in_days": {"days": 14, "count": {"gte": 1}}}]}},
]
