"""loyalty_audit also proves the rewards: stock counters, redemption and hold points."""

import pytest

from loyalty.audit import audit
from rewards.models import PointsHold, Redemption, Reward
from rewards.services import cancel_redemption, capture_hold, hold_points, redeem, release_hold

pytestmark = pytest.mark.django_db


def checks() -> set[tuple[str, str]]:
    return {(finding.check, finding.subject) for finding in audit()}


@pytest.fixture
def activity(member, give_points, make_reward):
    give_points(member, 2000)
    reward = make_reward(code="r", stock=5)
    kept = redeem(source="shop", member=member.external_id, reward="r", idempotency_key="a").redemption
    gone = redeem(source="shop", member=member.external_id, reward="r", idempotency_key="b").redemption
    cancel_redemption(redemption_id=gone.pk)
    holds = [
        hold_points(source="shop", member=member.external_id, amount=100, order_id=o, idempotency_key=o).hold
        for o in ("h1", "h2", "h3")
    ]
    capture_hold(hold_id=holds[1].pk, amount=60)
    release_hold(hold_id=holds[2].pk)
    return reward, kept, holds


def test_a_consistent_history_has_no_findings(activity):
    assert audit() == []


def test_a_drifted_stock_counter_is_found(activity):
    reward, _, _ = activity
    Reward.objects.filter(pk=reward.pk).update(redeemed_quantity=3)
    assert ("reward stock", "r") in checks()


def test_a_redemption_marked_cancelled_without_a_refund_is_found(activity, member):
    _, kept, _ = activity
    Redemption.objects.filter(pk=kept.pk).update(status="cancelled")
    assert ("redemption points", member.external_id) in checks()


@pytest.mark.parametrize(
    ("index", "change"),
    [(0, {"status": "released"}), (1, {"captured_amount": 100}), (2, {"status": "held"})],
)
def test_a_hold_whose_status_disagrees_with_its_refunds_is_found(activity, member, index, change):
    _, _, holds = activity
    PointsHold.objects.filter(pk=holds[index].pk).update(**change)
    assert ("points hold", member.external_id) in checks()
