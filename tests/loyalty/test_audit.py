"""loyalty_audit: proves caches equal the ledgers and names offenders when they do not."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from loyalty.audit import audit
from loyalty.models import GrowthEntry, PointsEntry, ProgramSettings
from loyalty.services import adjust_points, enrol_member, expire_points, record_event, refund_spend, spend_points
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_member():
    """A member with purchases, a partial return, pending points, a spend, a refund and an expiry."""
    program = ProgramSettings.current()
    program.pending_days = 7
    program.save()
    staff = get_user_model().objects.create_user("auditor")
    member = enrol_member(external_id="busy")
    long_ago = timezone.now() - timedelta(days=30)
    record_event(
        source="pos",
        event_id="p1",
        member="busy",
        event_type="purchase",
        amount="800",
        order_id="o1",
        occurred_at=long_ago,
    )
    record_event(source="pos", event_id="p2", member="busy", event_type="purchase", amount="300", order_id="o2")
    record_event(source="pos", event_id="r1", member="busy", event_type="return", amount="150", original_order_id="o2")
    record_event(source="app", event_id="c1", member="busy", event_type="check_in")
    record_event(source="app", event_id="x1", member="busy", event_type="violation")
    adjust_points(
        member=member, amount=40, reason="goodwill", actor=staff, expires_at=timezone.now() + timedelta(days=1)
    )
    spend = spend_points(member=member, amount=100, reason="coupon", source="mall", reference="s1")
    refund_spend(spend=spend, amount=70, reason="cancelled")  # gives back the 40 expiring soon too
    expire_points(member=member, as_of=timezone.now() + timedelta(days=2))
    return Member.objects.get(pk=member.pk)


def test_consistent_ledgers_pass(busy_member):
    assert busy_member.points_pending > 0
    assert PointsEntry.objects.filter(member=busy_member, kind="expire").exists()
    assert audit() == []
    out = StringIO()
    call_command("loyalty_audit", stdout=out)
    assert "agree" in out.getvalue()


def test_a_wrong_cached_balance_is_named(busy_member):
    Member.objects.filter(pk=busy_member.pk).update(points_available=busy_member.points_available + 1)
    findings = audit()
    assert [(f.check, f.subject) for f in findings] == [("cached balances", "busy")]


def test_a_lot_whose_remainder_disagrees_with_its_allocations_is_named(busy_member):
    lot = GrowthEntry.objects.filter(member=busy_member, amount__gt=1, remaining__gt=0).first()
    GrowthEntry.objects.filter(pk=lot.pk).update(remaining=lot.remaining - 1)
    checks = {f.check for f in audit()}
    assert {"growth lot", "cached balances"} <= checks


def test_a_tier_that_disagrees_with_its_history_is_named(busy_member):
    from loyalty.models import Tier

    Member.objects.filter(pk=busy_member.pk).update(tier=Tier.objects.get(code="diamond"))
    assert [f.check for f in audit()] == ["tier history"]


def test_command_exits_non_zero_and_lists_offenders(busy_member):
    Member.objects.filter(pk=busy_member.pk).update(growth_value=0)
    out = StringIO()
    with pytest.raises(CommandError, match="1 inconsistencies"):
        call_command("loyalty_audit", stdout=out)
    assert "member busy" in out.getvalue()


def test_rebuild_caches_restores_balances_from_the_ledger(busy_member):
    expected = (busy_member.growth_value, busy_member.points_available, busy_member.points_pending)
    Member.objects.filter(pk=busy_member.pk).update(growth_value=1, points_available=2, points_pending=3)
    call_command("loyalty_audit", "--rebuild-caches", stdout=StringIO())
    rebuilt = Member.objects.get(pk=busy_member.pk)
    assert (rebuilt.growth_value, rebuilt.points_available, rebuilt.points_pending) == expected
