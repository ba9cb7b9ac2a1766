from datetime import timedelta

import pytest
from django.utils import timezone, translation

from tests.factories import MemberFactory
from tests.helpers import purchase, refund


@pytest.fixture(autouse=True)
def in_english():
    """Findings and errors are translated; an earlier test's request may have left the thread in
    another language."""
    with translation.override("en"):
        yield


@pytest.fixture
def as_of():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def rfm_population(program, as_of):
    """Six members with purchases (growth 1 per yuan) around a 365-day window ending at as_of:

    member  purchases in window         F  M    last purchase
    a       3 x 100                     3  300  10 days ago
    b       1 x 500                     1  500  20 days ago
    c       2 x 10                      2  20   30 days ago
    d       none                        0  0    -
    e       200, 400 days ago           0  0    -   (outside the window)
    f       100 then a return of 40     1  60   5 days ago
    Medians: F of 0,0,1,1,2,3 is 1; M of 0,0,20,60,300,500 is 40.
    """
    members = {name: MemberFactory(external_id=f"rfm-{name}") for name in "abcdef"}
    for days in (10, 50, 90):
        purchase(members["a"], "100", occurred_at=as_of - timedelta(days=days))
    purchase(members["b"], "500", occurred_at=as_of - timedelta(days=20))
    for days in (30, 31):
        purchase(members["c"], "10", occurred_at=as_of - timedelta(days=days))
    purchase(members["e"], "200", occurred_at=as_of - timedelta(days=400))
    purchase(members["f"], "100", occurred_at=as_of - timedelta(days=5), order_id="f-order")
    refund(members["f"], "f-order", "40", occurred_at=as_of - timedelta(days=4))
    for member in members.values():
        member.refresh_from_db()
    return members
