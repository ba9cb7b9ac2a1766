"""The storefront API. Views translate HTTP to service calls and back; they never write models."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import selectors
from loyalty.models import GrowthEntry, PointsEntry, Tier, TierChange
from loyalty.selectors.storefront_card import storefront_card
from loyalty.services import EventOutcome, enrol_member, record_events, record_storefront_event
from loyalty.services.events import EVENT_FIELDS
from members.errors import LoyaltyError
from members.selectors import get_member
from members.services import PROFILE_FIELDS, update_member

from . import serializers as s
from .common import COMMON_ERRORS, MEMBER_ERRORS, Pagination, documented_errors, json_object
from .errors import error_body, printable
from .filters import GrowthLedgerFilter, PointsLedgerFilter

MAX_BATCH = 1000


def _card(external_id: str) -> dict:
    return s.member_card_body(storefront_card(external_id=external_id, now=timezone.now()))


class MembersView(APIView):
    @extend_schema(
        operation_id="enrol_member",
        request=s.MemberCreateRequest,
        responses={
            201: s.member_card_serializer(),
            **COMMON_ERRORS,
            **documented_errors((409, ["member_exists"])),
        },
    )
    def post(self, request):
        body = json_object(
            request, {"external_id", "name", "email", "phone", "birthday", "referrer", "language", "marketing_opt_in"}
        )
        member = enrol_member(
            external_id=body.get("external_id"),
            name=body.get("name", ""),
            email=body.get("email", ""),
            phone=body.get("phone", ""),
            birthday=body.get("birthday"),
            referrer=body.get("referrer"),
            language=body.get("language", ""),
            marketing_opt_in=body.get("marketing_opt_in", False),
        )
        return Response(_card(member.external_id), status=status.HTTP_201_CREATED)


class MemberView(APIView):
    @extend_schema(operation_id="get_member", responses={200: s.member_card_serializer(), **MEMBER_ERRORS})
    def get(self, request, external_id):
        return Response(_card(external_id))

    @extend_schema(
        operation_id="update_member",
        request=s.MemberUpdateRequest,
        responses={200: s.member_card_serializer(), **MEMBER_ERRORS},
    )
    def patch(self, request, external_id):
        member = update_member(
            member=get_member(external_id=external_id), changes=json_object(request, set(PROFILE_FIELDS))
        )
        return Response(_card(member.external_id))


class _MemberLedgerView(generics.ListAPIView):
    pagination_class = Pagination

    def member(self):
        return get_member(external_id=self.kwargs["external_id"])


@extend_schema_view(
    get=extend_schema(
        operation_id="points_ledger", responses={200: s.PointsEntrySerializer(many=True), **MEMBER_ERRORS}
    )
)
class PointsLedgerView(_MemberLedgerView):
    queryset = PointsEntry.objects.none()  # for the schema; get_queryset scopes rows to the member
    serializer_class = s.PointsEntrySerializer
    filterset_class = PointsLedgerFilter

    def get_queryset(self):
        return selectors.points_ledger(member=self.member())


@extend_schema_view(
    get=extend_schema(
        operation_id="growth_ledger", responses={200: s.LedgerEntrySerializer(many=True), **MEMBER_ERRORS}
    )
)
class GrowthLedgerView(_MemberLedgerView):
    queryset = GrowthEntry.objects.none()  # for the schema; get_queryset scopes rows to the member
    serializer_class = s.LedgerEntrySerializer
    filterset_class = GrowthLedgerFilter

    def get_queryset(self):
        return selectors.growth_ledger(member=self.member())


@extend_schema_view(
    get=extend_schema(operation_id="tier_history", responses={200: s.TierChangeSerializer(many=True), **MEMBER_ERRORS})
)
class TierHistoryView(_MemberLedgerView):
    queryset = TierChange.objects.none()  # for the schema; get_queryset scopes rows to the member
    serializer_class = s.TierChangeSerializer

    def get_queryset(self):
        return selectors.tier_history(member=self.member())


EVENT_ERRORS = {
    **COMMON_ERRORS,
    **documented_errors(
        (404, ["member_not_found"]),
        (409, ["idempotency_conflict", "duplicate_order"]),
        (
            422,
            [
                "member_frozen",
                "member_closed",
                "unknown_event_type",
                "refund_exceeds_order",
                "order_not_found",
                "event_too_old",
            ],
        ),
    ),
}


class EventsView(APIView):
    @extend_schema(
        operation_id="record_event",
        request=s.EventRequest,
        responses={
            201: s.EventResultSerializer,
            200: OpenApiResponse(s.EventResultSerializer, description="a replay: the first result, unchanged"),
            **EVENT_ERRORS,
        },
    )
    def post(self, request):
        outcome = record_storefront_event(source=request.user.source, body=json_object(request, EVENT_FIELDS))
        code = status.HTTP_201_CREATED if outcome.applied else status.HTTP_200_OK
        return Response(s.event_result(outcome.event, "applied"), status=code)


class EventBatchView(APIView):
    @extend_schema(
        operation_id="record_events_batch",
        request=s.BatchRequest,
        responses={200: s.BatchResponseSerializer, **COMMON_ERRORS},
    )
    def post(self, request):
        events = json_object(request, {"events"}).get("events")
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_BATCH:
            raise ValidationError({"events": [f"A list of 1 to {MAX_BATCH} events."]})
        outcomes = record_events(source=request.user.source, events=events)
        return Response(
            {"results": [_batch_result(item, outcome) for item, outcome in zip(events, outcomes, strict=True)]}
        )


def _batch_result(item: Any, outcome: EventOutcome | LoyaltyError) -> dict[str, Any]:
    if isinstance(outcome, LoyaltyError):
        event_id = item.get("event_id") if isinstance(item, dict) else None
        return {
            "event_id": printable(event_id) if isinstance(event_id, str) else None,
            "status": "error",
            **error_body(outcome.code, outcome.message, outcome.fields),
        }
    return s.event_result(outcome.event, "applied" if outcome.applied else "duplicate")


class TiersView(APIView):
    @extend_schema(operation_id="list_tiers", responses={200: s.ladder_tier_serializer()(many=True), **COMMON_ERRORS})
    def get(self, request):
        return Response(s.ladder_tier_serializer()(Tier.objects.order_by("rank"), many=True).data)
