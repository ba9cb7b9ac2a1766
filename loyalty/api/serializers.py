"""Response bodies (and, for the schema, request bodies) of the storefront API.

Requests are validated by the services, which own the rules; the request serializers here only
describe the bodies in the OpenAPI schema."""

import functools

from rest_framework import serializers

from loyalty import extensions
from members.services import LANGUAGE_CODES

from .request_fields import BirthdayField, EmailOrBlankField, MoneyField, event_text, optional_text, required_text

# --- responses --------------------------------------------------------------------------------------


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField()


class NextTierSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    threshold = serializers.IntegerField()


class GrowthSummarySerializer(serializers.Serializer):
    value = serializers.IntegerField(source="member.growth_value")
    next_tier = NextTierSerializer(allow_null=True, help_text="null at the top of the ladder")
    to_next = serializers.IntegerField(help_text="growth still needed for next_tier")


class ExpiringSerializer(serializers.Serializer):
    amount = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class PointsSummarySerializer(serializers.Serializer):
    available = serializers.IntegerField(source="member.points_available")
    pending = serializers.IntegerField(source="member.points_pending")
    expiring = ExpiringSerializer(many=True, help_text="points expiring in the next 90 days")


# The card's own fields; member_card_serializer() adds the registered sections (rewards: benefits).
# No docstring: the schema would show it as the card's description.
class MemberCardBase(serializers.Serializer):
    external_id = serializers.CharField(source="member.external_id")
    name = serializers.CharField(source="member.name")
    email = serializers.CharField(source="member.email")
    phone = serializers.CharField(source="member.phone")
    birthday = serializers.DateField(source="member.birthday", allow_null=True)
    language = serializers.CharField(source="member.language", help_text="blank: the program's default")
    marketing_opt_in = serializers.BooleanField(source="member.marketing_opt_in")
    status = serializers.CharField(source="member.status")
    joined_at = serializers.DateTimeField(source="member.joined_at")
    tier = TierRefSerializer(source="member.tier")
    growth = GrowthSummarySerializer(source="*")
    points = PointsSummarySerializer(source="*")


@functools.cache
def member_card_serializer() -> type[serializers.Serializer]:
    """The member card with every registered section (loyalty.extensions.card_sections), read from a
    StorefrontCard's `sections`: the schema's description of the card, which member_card_body follows."""
    fields = {
        name: section.field(source=f"sections.{name}", read_only=True)
        for name, section in extensions.card_sections.items()
    }
    return type("MemberCardSerializer", (MemberCardBase,), fields)


_datetime = serializers.DateTimeField()
_date = serializers.DateField()


def member_card_body(storefront_card) -> dict:
    """A member_card_serializer() body, built directly: the serializer's per-request field copies cost
    more than the card's queries. tests/loyalty/api/test_members_api.py pins it to the serializer's output."""
    card = storefront_card.card
    member, next_tier = card.member, card.next_tier
    tier = member.tier
    return {
        "external_id": member.external_id,
        "name": member.name,
        "email": member.email,
        "phone": member.phone,
        "birthday": _date.to_representation(member.birthday) if member.birthday is not None else None,
        "language": member.language,
        "marketing_opt_in": member.marketing_opt_in,
        "status": member.status,
        "joined_at": _datetime.to_representation(member.joined_at),
        "tier": {"code": tier.code, "name": tier.name, "rank": tier.rank},
        "growth": {
            "value": member.growth_value,
            "next_tier": (
                {"code": next_tier.code, "name": next_tier.name, "threshold": next_tier.threshold}
                if next_tier is not None
                else None
            ),
            "to_next": card.to_next,
        },
        "points": {
            "available": member.points_available,
            "pending": member.points_pending,
            "expiring": [
                {"amount": lot.amount, "expires_at": _datetime.to_representation(lot.expires_at)}
                for lot in card.expiring
            ],
        },
        **{name: section.body(storefront_card.sections[name]) for name, section in extensions.card_sections.items()},
    }


def event_result(event, status: str) -> dict:
    """An EventResultSerializer body, built directly: batches return up to 1,000 of them and a DRF
    serializer per event cost more than recording the event."""
    tier = event.tier_after
    return {
        "event_id": event.event_id,
        "status": status,
        "growth_delta": event.growth_delta,
        "points_delta": event.points_delta,
        "tier": {"code": tier.code, "name": tier.name, "rank": tier.rank},
        "tier_changed": event.tier_changed,
        "campaigns": campaign_shares(event),
    }


def campaign_shares(event) -> list[dict]:
    """What each campaign added to the event (after its budget): the share the event's
    contributions record for it, the base rules' and the tier's share not included. A campaign that
    added nothing is left out: a held-out member's ghost would tell them they are held out."""
    return [
        {"code": share["code"], "points": share["points"], "growth": share["growth"]}
        for share in event.contributions or ()
        if share["source"] == "campaign" and (share["points"] or share["growth"])
    ]


class CampaignShareSerializer(serializers.Serializer):
    code = serializers.CharField()
    points = serializers.IntegerField(help_text="the points this campaign added to the event, after its budget")
    growth = serializers.IntegerField(help_text="the growth this campaign added to the event")


class EventResultSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    status = serializers.CharField(help_text='"applied"; in a batch, "duplicate" for an event already recorded')
    growth_delta = serializers.IntegerField()
    points_delta = serializers.IntegerField()
    tier = TierRefSerializer(source="tier_after")
    tier_changed = serializers.BooleanField()
    campaigns = CampaignShareSerializer(many=True)


OTHER_STOREFRONT = "Recorded by another storefront."


class _OriginScoped(serializers.Serializer):
    """An entry another storefront caused (its `origin`, from the ledger selectors) is shown without
    that storefront's words and ids: its reason names their orders and redemptions."""

    free_text: tuple[str, ...] = ()  # fields that may name the other storefront's orders

    def to_representation(self, instance):
        data = super().to_representation(instance)
        origin = getattr(instance, "origin", None)
        if origin and origin != self.context["request"].user.source:
            data["event_id"] = None
            data.update(dict.fromkeys(self.free_text, OTHER_STOREFRONT))
        return data


class LedgerEntrySerializer(_OriginScoped):
    free_text = ("reason",)

    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.IntegerField(help_text="signed: positive credits, negative debits")
    reason = serializers.CharField()
    event_id = serializers.CharField(source="event.event_id", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="lots only")
    remaining = serializers.IntegerField(allow_null=True, help_text="lots only: what is still held")


class PointsEntrySerializer(LedgerEntrySerializer):
    available_at = serializers.DateTimeField(allow_null=True, help_text="lots only: spendable from")
    pending = serializers.SerializerMethodField()

    def get_pending(self, entry) -> bool:
        return entry.amount > 0 and entry.released_at is None


class TierChangeSerializer(_OriginScoped):
    from_tier = TierRefSerializer(allow_null=True)
    to_tier = TierRefSerializer()
    reason = serializers.CharField()
    event_id = serializers.CharField(source="event.event_id", allow_null=True, default=None)
    period = serializers.CharField()
    growth_value = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class LadderTierBase(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField()
    threshold = serializers.IntegerField()
    points_multiplier = serializers.DecimalField(max_digits=6, decimal_places=3)
    description = serializers.CharField()


@functools.cache
def ladder_tier_serializer() -> type[serializers.Serializer]:
    """A tier of GET tiers/ with every registered detail (loyalty.extensions.ladder_details)."""
    fields = {name: detail.field() for name, detail in extensions.ladder_details.items()}
    return type("LadderTierSerializer", (LadderTierBase,), fields)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    # The error body's own key; DRF's Serializer.fields property is shadowed only for the schema.
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class BatchResultSerializer(serializers.Serializer):
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["applied", "duplicate", "error"])
    growth_delta = serializers.IntegerField(required=False)
    points_delta = serializers.IntegerField(required=False)
    tier = TierRefSerializer(required=False)
    tier_changed = serializers.BooleanField(required=False)
    campaigns = CampaignShareSerializer(many=True, required=False)
    error = ErrorDetailSerializer(required=False)


class BatchResponseSerializer(serializers.Serializer):
    results = BatchResultSerializer(many=True)


# --- requests (schema only) -------------------------------------------------------------------------
# The services validate requests; these describe exactly what they accept (loyalty.api.request_fields).


def language_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=["", *LANGUAGE_CODES],
        required=False,
        allow_null=True,
        help_text="messages' language; blank or null: the program's default",
    )


def consent_field() -> serializers.BooleanField:
    return serializers.BooleanField(
        required=False, help_text="the member's consent to marketing messages (default false)"
    )


class MemberCreateRequest(serializers.Serializer):
    external_id = required_text(64)
    name = optional_text(200, allow_null=True)
    email = EmailOrBlankField(required=False)
    phone = optional_text(32, allow_null=True)
    birthday = BirthdayField(required=False)
    referrer = optional_text(64, allow_null=True, help_text="external_id of the inviting member")
    language = language_field()
    marketing_opt_in = consent_field()


class MemberUpdateRequest(serializers.Serializer):
    name = optional_text(200, allow_null=True)
    email = EmailOrBlankField(required=False)
    phone = optional_text(32, allow_null=True)
    birthday = BirthdayField(required=False)
    language = language_field()
    marketing_opt_in = consent_field()


class EventRequest(serializers.Serializer):
    event_id = event_text(128, required=True, help_text="unique per storefront; retries reuse it")
    member = event_text(64, required=True, help_text="the member's external_id")
    type = event_text(64, required=True, help_text="purchase, return, check_in, ... or a custom type")
    occurred_at = serializers.DateTimeField(
        required=False,
        help_text="ISO 8601 with an offset; default now. Not more than 5 minutes ahead; not older than the "
        "program's max_event_age_days (422 event_too_old).",
    )
    amount = MoneyField(required=False, help_text="purchases and returns: more than 0")
    order_id = event_text(128, required=False, help_text="purchases: required")
    original_order_id = event_text(128, required=False, help_text="returns: required, the purchase's order_id")
    # The event's own key (the API's contract), as a request schema's field.
    data = serializers.DictField(required=False, allow_null=True, help_text="free-form JSON, at most 16 KB")  # type: ignore[assignment]


class BatchRequest(serializers.Serializer):
    # Items are checked one by one (a bad item is an error result, not a 400), so any JSON is allowed here.
    events = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=1000,
        help_text="1 to 1,000 events, each with the body of POST events/",
    )
