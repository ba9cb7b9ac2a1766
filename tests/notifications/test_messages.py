"""The messaging channel: a notification handed to the storefront's own messaging service as the
domain event notification.requested (delivered by the webhooks like any other), already written in
the member's language; and the other transactional kinds."""

from __future__ import annotations

import json

import pytest
from django.core import mail

from loyalty.services import adjust_growth
from members.models import DomainEvent
from notifications.models import Notification
from rewards.models import Redemption, Reward
from rewards.services.redemptions import move_fulfilment, redeem
from tests.notifications.conftest import assert_valid, relay_and_send
from tests.rewards.factories import RewardFactory

pytestmark = pytest.mark.django_db


def requested() -> list[DomainEvent]:
    return list(DomainEvent.objects.filter(type="notification.requested").order_by("recorded_at"))


def test_a_message_is_requested_with_its_text_in_the_members_language(enrol, user):
    member = enrol("N-1", name="韩梅梅", language="zh-hans")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    relay_and_send()
    (event,) = requested()
    notification = Notification.objects.get(channel="message")
    assert notification.status == "sent"
    assert event.member_id == member.pk
    data = event.payload
    assert data["notification_id"] == notification.pk
    assert (data["kind"], data["marketing"], data["language"]) == ("tier.upgraded", False, "zh-hans")
    assert data["title"].startswith("恭喜您升级为") and data["text"].startswith("您好：")
    assert "韩梅梅" not in json.dumps(data, ensure_ascii=False)  # domain events hold no personal data
    assert data["details"] == {"from": "normal", "to": "bronze"}
    assert_valid(event)


def test_messages_need_no_email_address(enrol, user):
    member = enrol("N-2", email="")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    relay_and_send()
    assert len(requested()) == 1
    assert Notification.objects.get(channel="email").status == "suppressed"


def test_a_frozen_member_is_told_nothing(enrol, user):
    from members.services import freeze_member

    member = enrol("N-3")
    adjust_growth(member=member, amount=600, reason="goodwill", actor=user)
    freeze_member(member=member)
    relay_and_send()
    assert requested() == [] and mail.outbox == []
    assert set(Notification.objects.values_list("status", "reason")) == {("suppressed", "member_inactive")}


def test_shipped_goods_are_told_with_the_tracking_number(enrol, user, give_points):
    reward = RewardFactory(kind=Reward.Kind.GOODS, coupon_template=None, points_cost=100)
    member = enrol("N-4", language="zh-hans")
    give_points(member, 500)
    outcome = redeem(source="shop", member="N-4", reward=reward.code, idempotency_key="k1", shipping_address="上海")
    move_fulfilment(
        redemption_id=outcome.redemption.pk, status=Redemption.Status.SHIPPED, carrier="顺丰", tracking_number="SF123"
    )
    move_fulfilment(redemption_id=outcome.redemption.pk, status=Redemption.Status.DELIVERED)
    relay_and_send()
    shipped = [m for m in mail.outbox if "发货" in m.subject]
    assert len(shipped) == 1  # delivered tells nothing
    assert "顺丰" in shipped[0].body and "运单号：SF123" in shipped[0].body
    assert Notification.objects.filter(kind="redemption.shipped").count() == 2  # email and message


def test_a_coupon_received_is_told(enrol, user, give_points):
    reward = RewardFactory(points_cost=100)
    member = enrol("N-5")
    give_points(member, 500)
    redeem(source="shop", member="N-5", reward=reward.code, idempotency_key="k2")
    relay_and_send()
    (email,) = [m for m in mail.outbox if m.subject.startswith("A coupon for you")]
    assert reward.coupon_template.name in email.subject
    assert "10 CNY off" in email.body
