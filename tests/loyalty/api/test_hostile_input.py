"""The API under hostile input: every write endpoint is sent lone surrogates, NULs, overflowing
numbers, deep nesting, oversized bodies, extreme dates and wrong types in every field. None may
answer with a 5xx, every refusal comes in the one error shape, and a batch refuses a bad event on
its own. The count of requests is printed (docs/api.md quotes it)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings

from loyalty.models import Event, PointsEntry
from loyalty.services import adjust_points, enrol_member
from members.models import Member
from tests.factories import UserFactory
from tests.helpers import assert_ledger_consistent

from .conftest import client_for

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_VALUES = [
    "\ud800",
    "a\udfffb",
    "x\x00y",
    "",
    " ",
    "a" * 100_000,
    "😀" * 70,
    2**31,
    2**31 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    -1,
    0,
    1e308,
    -1e308,
    1.5,
    True,
    None,
    [],
    {},
    ["\ud800"],
    {"\ud800": 1},
    {"k": "\ud800"},
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1900-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "1e999",
    "-0",
    "NaN",
    "2147483648",
    "9223372036854775808",
    "999999999999999999999.99",
]


@pytest.fixture
def world(program, make_reward_for_fuzz):
    """A member with points, a reward, and one redemption, hold and used coupon to aim the paths at."""
    web = client_for("web shop")
    alice = enrol_member(external_id="alice")
    adjust_points(member=alice, amount=50_000, reason="test setup", actor=UserFactory())
    reward = make_reward_for_fuzz()
    redemption = web.post(
        "/api/v1/redemptions/", {"member": "alice", "reward": reward.code, "idempotency_key": "seed"}, format="json"
    ).json()
    hold = web.post(
        "/api/v1/members/alice/points/holds/",
        {"amount": 10, "order_id": "seed", "idempotency_key": "seed"},
        format="json",
    ).json()
    coupon = redemption["coupons"][0]["code"]
    return {
        "web": web,
        "alice": alice,
        "reward": reward.code,
        "redemption": redemption["id"],
        "hold": hold["id"],
        "coupon": coupon,
    }


@pytest.fixture
def make_reward_for_fuzz(program):
    from tests.rewards.factories import CouponTemplateFactory, RewardFactory

    def make():
        template = CouponTemplateFactory(min_spend=Decimal("0"))
        return RewardFactory(code="fuzz-voucher", points_cost=10, coupon_template=template)

    return make


def endpoints(world) -> list[tuple[str, str, dict]]:
    """(method, path, a valid body) for every write endpoint."""
    event = {"event_id": "f-1", "member": "alice", "type": "purchase", "amount": "10", "order_id": "fo-1"}
    return [
        (
            "post",
            "/api/v1/members/",
            {
                "external_id": "new-1",
                "name": "N",
                "email": "n@example.com",
                "phone": "1",
                "birthday": "1990-01-01",
                "referrer": "alice",
            },
        ),
        (
            "patch",
            "/api/v1/members/alice/",
            {"name": "A", "email": "a@example.com", "phone": "2", "birthday": "1990-01-02"},
        ),
        ("post", "/api/v1/events/", event),
        ("post", "/api/v1/events/batch/", {"events": [event]}),
        (
            "post",
            "/api/v1/redemptions/",
            {
                "member": "alice",
                "reward": world["reward"],
                "quantity": 1,
                "idempotency_key": "f-r",
                "shipping_address": "here",
            },
        ),
        ("post", f"/api/v1/redemptions/{world['redemption']}/cancel/", {"reason": "fuzz"}),
        ("post", "/api/v1/members/alice/points/holds/", {"amount": 5, "order_id": "f-o", "idempotency_key": "f-h"}),
        ("post", f"/api/v1/points/holds/{world['hold']}/capture/", {"amount": 5}),
        ("post", f"/api/v1/points/holds/{world['hold']}/release/", {}),
        (
            "post",
            f"/api/v1/coupons/{world['coupon']}/use/",
            {"order_id": "f-c", "order_amount": "100", "member": "alice"},
        ),
        ("post", f"/api/v1/coupons/{world['coupon']}/release/", {"order_id": "f-c"}),
    ]


def send(client, method: str, path: str, raw: str | bytes):
    return getattr(client, method)(path, data=raw, content_type="application/json")


def assert_answered(response, context) -> None:
    assert response.status_code < 500, (context, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), (context, response["Content-Type"])
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"}, (context, body)
        assert set(body["error"]) == {"code", "message", "fields"}, (context, body)
        assert isinstance(body["error"]["code"], str) and body["error"]["code"], (context, body)


def bodies(valid: dict):
    """Each field replaced by each hostile value; for a batch, inside its one event."""
    for field in valid:
        for value in HOSTILE_VALUES:
            yield f"{field}={value!r:.40}", {**valid, field: value}
    if "events" in valid:
        event = valid["events"][0]
        for field in (*event, "occurred_at", "data", "original_order_id"):
            for value in HOSTILE_VALUES:
                yield f"events[0].{field}={value!r:.40}", {"events": [{**event, field: value}]}
    for extra, value in (("unknown_field", 1), ("\ud800", 1)):
        yield f"extra {extra!r}", {**valid, extra: value}


WHOLE_BODIES = [
    ("deep nesting", DEEP),
    ("deep nesting in a field", '{"name": ' + DEEP + "}"),
    ("a list", "[1, 2]"),
    ("a string", '"x"'),
    ("a number", "1e999"),
    ("null", "null"),
    ("truncated", '{"a": '),
    ("NaN literal", '{"amount": NaN}'),
    ("a lone surrogate escape", '{"name": "\\ud800"}'),
    ("bad UTF-8", b'{"name": "\xed\xa0\x80"}'),
    ("an integer too long to parse", '{"amount": ' + "9" * 5000 + "}"),
]


def test_no_hostile_input_gets_a_server_error(world, capsys):
    web = world["web"]
    sent = 0
    for method, path, valid in endpoints(world):
        for context, body in bodies(valid):
            raw = json.dumps(body)
            assert_answered(send(web, method, path, raw), (path, context))
            sent += 1
        for context, raw in WHOLE_BODIES:
            assert_answered(send(web, method, path, raw), (path, context))
            sent += 1
        oversized = b'{"pad": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
        response = send(web, method, path, oversized)
        assert_answered(response, (path, "oversized"))
        assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")
        sent += 1
    for path in (
        "/api/v1/members/%ED%A0%80/",
        "/api/v1/members/" + "x" * 10_000 + "/",
        "/api/v1/redemptions/99999999999999999999999999/",
        "/api/v1/points/holds/99999999999999999999/capture/",
        "/api/v1/coupons/%00/use/",
        "/api/v1/rewards/?page_size=99999999999999999999",
        "/api/v1/members/alice/points/?page=-1",
    ):
        for method in ("get", "post"):
            assert_answered(getattr(web, method)(path), (path, method))
            sent += 1
    print(f"\nhostile requests sent: {sent}, 5xx answers: 0")
    assert sent > 1_000
    assert_ledger_consistent(Member.objects.get(external_id="alice"))


def test_a_lone_surrogate_refuses_only_its_own_event_with_the_field_named(world):
    web = world["web"]
    events = [
        {"event_id": "ok-1", "member": "alice", "type": "purchase", "amount": "10", "order_id": "s-1"},
        {"event_id": "bad-1", "member": "alice", "type": "purchase", "amount": "10", "order_id": "s-\ud800"},
        {
            "event_id": "bad-2",
            "member": "alice",
            "type": "purchase",
            "amount": "10",
            "order_id": "s-3",
            "data": {"note": "\udc00"},
        },
        {"event_id": "ok-2", "member": "alice", "type": "purchase", "amount": "10", "order_id": "s-4"},
    ]
    results = send(web, "post", "/api/v1/events/batch/", json.dumps({"events": events})).json()["results"]
    assert [r["status"] for r in results] == ["applied", "error", "error", "applied"]
    assert list(results[1]["error"]["fields"]) == ["order_id"]
    assert list(results[2]["error"]["fields"]) == ["data"]
    single = send(web, "post", "/api/v1/members/", json.dumps({"external_id": "bob", "name": "B\ud800"}))
    assert (single.status_code, single.json()["error"]["code"], list(single.json()["error"]["fields"])) == (
        400,
        "validation_error",
        ["name"],
    )


def test_deeply_nested_json_is_a_validation_error_on_every_write_endpoint(world):
    for method, path, _ in endpoints(world):
        response = send(world["web"], method, path, DEEP)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "validation_error"), path


def test_a_full_batch_with_generous_data_fits_the_body_limit(world):
    filler = "d" * 16_000
    events = [
        {"event_id": f"big-{i}", "member": "alice", "type": "check_in", "data": {"filler": filler}} for i in range(1000)
    ]
    raw = json.dumps({"events": events})
    assert len(raw) > 16_000_000
    response = send(world["web"], "post", "/api/v1/events/batch/", raw)
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"applied"}
    assert Event.objects.filter(event_id__startswith="big-").count() == 1000


@override_settings(DEBUG=True)
def test_unknown_api_paths_answer_in_the_error_shape_even_in_the_demo(world):
    for path in ("/api/v1/nope/", "/api/nothing", "/api/v1/members"):
        response = world["web"].get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_an_event_that_would_overflow_a_balance_is_refused_alone(world):
    """A balance the 64-bit column cannot hold: the database refuses the one event, and in a batch
    the other events are still applied."""
    bob = enrol_member(external_id="bob")
    Member.objects.filter(pk=bob.pk).update(points_available=2**63 - 5)
    web = world["web"]
    single = web.post(
        "/api/v1/events/",
        {"event_id": "o-1", "member": "bob", "type": "purchase", "amount": "100", "order_id": "ob-1"},
        format="json",
    )
    assert (single.status_code, single.json()["error"]["code"]) == (400, "validation_error")
    events = [
        {"event_id": "o-2", "member": "bob", "type": "purchase", "amount": "100", "order_id": "ob-2"},
        {"event_id": "o-3", "member": "alice", "type": "purchase", "amount": "100", "order_id": "oa-3"},
    ]
    results = web.post("/api/v1/events/batch/", {"events": events}, format="json").json()["results"]
    assert [r["status"] for r in results] == ["error", "applied"]
    assert not Event.objects.filter(member=bob).exists()


def test_a_batch_of_returns_with_one_overflowing_event_applies_the_others(world, make_rule):
    """The hostile tester's case: 60 returns and one event earning beyond the bound. Before, the batch
    answered a blanket 400 after committing 50 of the returns."""
    alice = world["alice"]
    web = world["web"]
    for i in range(60):
        web.post(
            "/api/v1/events/",
            {"event_id": f"p-{i}", "member": "alice", "type": "purchase", "amount": "10", "order_id": f"po-{i}"},
            format="json",
        )
    make_rule("jackpot", points_per_unit=Decimal("10000"))
    events = [
        {"event_id": f"r-{i}", "member": "alice", "type": "return", "amount": "10", "original_order_id": f"po-{i}"}
        for i in range(60)
    ] + [{"event_id": "j-1", "member": "alice", "type": "jackpot", "amount": "999999999999"}]
    results = web.post("/api/v1/events/batch/", {"events": events}, format="json").json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 60 + ["error"]
    assert results[-1]["error"]["code"] == "validation_error" and "amount" in results[-1]["error"]["fields"]
    assert_ledger_consistent(alice)


def test_amounts_beyond_32_bits_are_stored_exactly(world):
    web = world["web"]
    body = {"event_id": "huge-1", "member": "alice", "type": "purchase", "amount": "2150000000", "order_id": "h-1"}
    assert web.post("/api/v1/events/", body, format="json").status_code == 201
    card = web.get("/api/v1/members/alice/").json()
    assert card["growth"]["value"] == 2_150_000_000
    entry = PointsEntry.objects.get(event__event_id="huge-1")
    assert entry.amount == 2_150_000_000
    assert_ledger_consistent(world["alice"])
