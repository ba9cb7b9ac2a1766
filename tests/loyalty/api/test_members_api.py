from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.services import record_event

from .conftest import error_code

pytestmark = pytest.mark.django_db


def test_enrol_returns_201_and_the_member_card(api):
    response = api.post(
        "/api/v1/members/",
        {"external_id": "u-1", "name": "张三", "email": "z@example.com", "birthday": "1990-05-01"},
        format="json",
    )
    assert response.status_code == 201
    card = response.json()
    assert card["external_id"] == "u-1"
    assert card["name"] == "张三"
    assert card["tier"] == {"code": "normal", "name": "普通 Normal", "rank": 0}
    assert card["growth"] == {
        "value": 0,
        "next_tier": {"code": "bronze", "name": "青铜 Bronze", "threshold": 500},
        "to_next": 500,
    }
    assert card["points"] == {"available": 0, "pending": 0, "expiring": []}


def test_enrol_with_an_existing_external_id_is_409(api, alice):
    response = api.post("/api/v1/members/", {"external_id": "alice"}, format="json")
    assert response.status_code == 409
    assert error_code(response) == "member_exists"


def test_enrol_with_a_referrer(api, alice):
    response = api.post("/api/v1/members/", {"external_id": "bob", "referrer": "alice"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "external_id"),
        ({"external_id": 12}, "external_id"),
        ({"external_id": "x" * 65}, "external_id"),
        ({"external_id": "u", "email": "nope"}, "email"),
        ({"external_id": "u", "birthday": "yesterday"}, "birthday"),
        ({"external_id": "u", "referrer": "ghost"}, "referrer"),
    ],
)
def test_enrol_validation_errors_name_the_field(api, body, field):
    response = api.post("/api/v1/members/", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert field in response.json()["error"]["fields"]


def test_get_unknown_member_is_404_member_not_found(api):
    response = api.get("/api/v1/members/nobody/")
    assert response.status_code == 404
    assert error_code(response) == "member_not_found"


def test_card_shows_progress_and_points_expiring_within_90_days(api, alice):
    record_event(source="test", event_id="p", member="alice", event_type="purchase", amount="620", order_id="o")
    card = api.get("/api/v1/members/alice/").json()
    assert card["tier"]["code"] == "bronze"
    assert card["growth"]["value"] == 620
    assert card["growth"]["next_tier"]["code"] == "silver"
    assert card["growth"]["to_next"] == 2000 - 620
    assert card["points"]["available"] == 620
    assert card["points"]["expiring"] == []  # the default program keeps points 12 months


def test_expiring_lists_lots_due_in_the_next_90_days(api, alice, django_user_model):
    from loyalty.services import adjust_points

    staff = django_user_model.objects.create_user("ops")
    soon = timezone.now() + timedelta(days=30)
    adjust_points(member=alice, amount=25, reason="goodwill", actor=staff, expires_at=soon)
    adjust_points(member=alice, amount=5, reason="goodwill", actor=staff, expires_at=soon)
    adjust_points(member=alice, amount=7, reason="later", actor=staff, expires_at=timezone.now() + timedelta(days=200))
    expiring = api.get("/api/v1/members/alice/").json()["points"]["expiring"]
    assert [row["amount"] for row in expiring] == [30]


def test_top_tier_has_no_next_tier(api, alice):
    record_event(source="t", event_id="p", member="alice", event_type="purchase", amount="50000", order_id="o")
    growth = api.get("/api/v1/members/alice/").json()["growth"]
    assert growth["next_tier"] is None
    assert growth["to_next"] == 0


def test_patch_updates_profile_fields(api, alice):
    response = api.patch("/api/v1/members/alice/", {"phone": "13800000000", "name": "Alice L."}, format="json")
    assert response.status_code == 200
    assert response.json()["phone"] == "13800000000"
    assert response.json()["name"] == "Alice L."


def test_patch_refuses_fields_that_are_not_profile_fields(api, alice):
    response = api.patch("/api/v1/members/alice/", {"growth_value": 99999}, format="json")
    assert response.status_code == 400
    assert "growth_value" in response.json()["error"]["fields"]


@pytest.mark.parametrize("path", ["/api/v1/members/a%00b/", "/api/v1/members/alice/points/?kind=%00"])
def test_nul_characters_in_the_path_or_query_are_400(api, path):
    response = api.get(path)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_unicode_and_odd_external_ids_are_not_found_not_500(api):
    for external_id in ["会员", "a%20b", "x" * 300]:
        response = api.get(f"/api/v1/members/{external_id}/")
        assert response.status_code == 404


def test_the_card_body_is_what_the_documented_serializer_gives(api, alice, django_user_model):
    """The view builds the card without DRF's serializer (it cost more than the card's queries), from
    one statement; the body must stay exactly what the card's serializer, the schema's description of
    it, gives for the card read the slow way (each part's own reads)."""
    from datetime import date
    from decimal import Decimal

    from loyalty.api import serializers as s
    from loyalty.models import ProgramSettings, Tier
    from loyalty.selectors.storefront_card import composed_card, storefront_card
    from loyalty.services import adjust_points
    from members.selectors import get_member
    from rewards.models import Benefit, BenefitGrant

    staff = django_user_model.objects.create_user("ops")
    alice.birthday = date(1990, 2, 3)
    alice.save(update_fields=["birthday"])
    adjust_points(
        member=alice, amount=25, reason="goodwill", actor=staff, expires_at=timezone.now() + timedelta(days=3)
    )
    record_event(source="t", event_id="p", member="alice", event_type="purchase", amount="700", order_id="o")
    benefit = Benefit.objects.create(
        code="rebate",
        name="返利 Rebate",
        entitlement=Benefit.Entitlement.REFERRAL_REBATE,
        rebate_percent=Decimal("2.5"),
    )
    benefit.tiers.set(Tier.objects.all())
    Benefit.objects.create(code="monthly", name="Monthly", entitlement=Benefit.Entitlement.NONE).tiers.set(
        Tier.objects.all()
    )
    coupons = Benefit.objects.create(
        code="coupons", name="Coupons", entitlement=Benefit.Entitlement.MONTHLY_COUPONS, sort_order=-1
    )
    coupons.tiers.set(Tier.objects.all())
    Benefit.objects.create(
        code="gift", name="Gift", entitlement=Benefit.Entitlement.BIRTHDAY_GIFT, points=10
    ).tiers.set(Tier.objects.all())
    Benefit.objects.create(code="retired", name="Retired", is_active=False).tiers.set(Tier.objects.all())
    this_month = f"{timezone.now().astimezone(ProgramSettings.current().zone):%Y-%m}"
    for period in (this_month, "2001-01"):
        BenefitGrant.objects.create(member=alice, benefit=coupons, period=period, tier=alice.tier, coupon_count=3)
    member = get_member(external_id="alice")
    card = composed_card(member=member, now=timezone.now())
    expected = s.member_card_serializer()(card).data
    assert expected["points"]["expiring"] and expected["birthday"]
    assert [b["code"] for b in expected["benefits"]] == ["coupons", "gift", "monthly", "rebate"]
    assert expected["benefits"][0]["granted"]["period"] == this_month
    assert expected["benefits"][1]["period"] and expected["benefits"][1]["granted"] is None
    assert s.member_card_body(storefront_card(external_id="alice", now=timezone.now())) == expected
    assert api.get("/api/v1/members/alice/").json() == expected


def test_benefit_periods_follow_a_time_zone_changed_since_the_last_card(api, alice):
    """The card's statement picks this period's grants by the time zone this process last read; when
    the program's zone changed meanwhile, the card is read again in the new zone."""
    from datetime import UTC, datetime

    from loyalty.models import ProgramSettings, Tier
    from loyalty.selectors.storefront_card import storefront_card
    from rewards.models import Benefit, BenefitGrant

    coupons = Benefit.objects.create(code="coupons", name="Coupons", entitlement=Benefit.Entitlement.MONTHLY_COUPONS)
    coupons.tiers.set(Tier.objects.all())
    BenefitGrant.objects.create(member=alice, benefit=coupons, period="2026-12", tier=alice.tier, coupon_count=2)
    program = ProgramSettings.current()
    program.timezone = "UTC"
    program.save()
    evening = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # already December in Shanghai
    [benefit] = storefront_card(external_id="alice", now=evening).sections["benefits"]
    assert (benefit.period, benefit.grant) == ("2026-11", None)

    program.timezone = "Asia/Shanghai"
    program.save()
    [benefit] = storefront_card(external_id="alice", now=evening).sections["benefits"]
    assert benefit.period == "2026-12" and benefit.grant.coupon_count == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's: set DATABASE_URL")
def test_the_card_statement_is_prepared_once_per_connection(api, alice):
    """Planning the card's statement cost PostgreSQL six times running it; it is prepared on the
    connection's first card and reused by the next ones."""

    def prepared_cards() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE '%%LEFT JOIN LATERAL%%'")
            return cursor.fetchone()[0]

    assert api.get("/api/v1/members/alice/").status_code == 200
    assert prepared_cards() == 1
    assert api.get("/api/v1/members/alice/").status_code == 200
    assert prepared_cards() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's: set DATABASE_URL")
def test_the_card_survives_a_migration_that_changes_a_column_it_returns(program, api, alice):
    """A prepared statement whose result columns changed type fails ("cached plan must not change
    result type"); a deploy's migration, run by another process, must not turn cards into 500s."""
    import psycopg

    from members.models import Member

    assert api.get("/api/v1/members/alice/").status_code == 200
    length = Member._meta.get_field("name").max_length
    database = connection.settings_dict
    with psycopg.connect(
        dbname=database["NAME"], user=database["USER"], host=database["HOST"], port=database["PORT"], autocommit=True
    ) as migration:
        migration.execute(f"ALTER TABLE members_member ALTER COLUMN name TYPE varchar({length + 100})")
        try:
            assert api.get("/api/v1/members/alice/").json()["name"] == "Alice"
        finally:
            migration.execute(f"ALTER TABLE members_member ALTER COLUMN name TYPE varchar({length})")
