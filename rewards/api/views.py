"""The rewards API: catalog, redemptions, coupons and points holds. Views translate HTTP to service
calls and back; they never write models."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.common import COMMON_ERRORS, MEMBER_ERRORS, Pagination, documented_errors, json_object
from members.selectors import get_member
from rewards import selectors, services
from rewards.errors import CouponNotFound, HoldNotFound, RedemptionNotFound, RewardNotFound
from rewards.models import Coupon, PointsHold, Redemption, Reward
from rewards.services.inputs import is_row_id

from . import serializers as s
from .filters import CouponFilter, RedemptionFilter, RewardFilter


def _replayable(serializer_data, created: bool) -> Response:
    return Response(serializer_data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- catalog ----------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        operation_id="list_rewards",
        responses={200: s.RewardSerializer(many=True), **MEMBER_ERRORS},
    )
)
class RewardsView(generics.ListAPIView):
    queryset = Reward.objects.none()  # for the schema; get_queryset gives what is on offer now
    serializer_class = s.RewardSerializer
    filterset_class = RewardFilter
    pagination_class = Pagination

    def get_queryset(self):
        return selectors.on_offer(timezone.now()).order_by("sort_order", "points_cost", "code")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["availability"] = getattr(self, "availability", {})
        return context

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        external_id = self.request.query_params.get("member")
        if external_id:
            member = get_member(external_id=external_id)
            self.availability = selectors.availability(member=member, rewards=list(page), now=timezone.now())
        return page


class RewardView(APIView):
    @extend_schema(
        operation_id="get_reward",
        responses={200: s.RewardSerializer, **COMMON_ERRORS, **documented_errors((404, ["reward_not_found"]))},
    )
    def get(self, request, code):
        reward = selectors.on_offer(timezone.now()).filter(code=code).first()
        if reward is None:
            raise RewardNotFound(f"No reward on offer with code {code!r}.")
        return Response(s.RewardSerializer(reward).data)


# --- redemptions ------------------------------------------------------------------------------------

REDEEM_ERRORS = {
    **COMMON_ERRORS,
    **documented_errors(
        (404, ["member_not_found", "reward_not_found"]),
        (409, ["idempotency_conflict"]),
        (
            422,
            [
                "insufficient_points",
                "out_of_stock",
                "limit_reached",
                "tier_required",
                "reward_unavailable",
                "member_frozen",
                "member_closed",
            ],
        ),
    ),
}


def _redemption_data(redemption: Redemption) -> dict:
    return s.RedemptionSerializer(selectors.redemptions_with_items().get(pk=redemption.pk)).data


class RedemptionsView(APIView):
    @extend_schema(
        operation_id="redeem_reward",
        request=s.RedemptionRequest,
        responses={
            201: s.RedemptionSerializer,
            200: OpenApiResponse(s.RedemptionSerializer, description="a replay of the idempotency_key"),
            **REDEEM_ERRORS,
        },
    )
    def post(self, request):
        body = json_object(request, {"member", "reward", "quantity", "idempotency_key", "shipping_address"})
        outcome = services.redeem(
            source=request.user.source,
            member=body.get("member"),
            reward=body.get("reward"),
            quantity=body.get("quantity", 1),
            idempotency_key=body.get("idempotency_key"),
            shipping_address=body.get("shipping_address", ""),
        )
        return _replayable(_redemption_data(outcome.redemption), outcome.created)


class RedemptionView(APIView):
    @extend_schema(
        operation_id="get_redemption",
        responses={200: s.RedemptionSerializer, **COMMON_ERRORS, **documented_errors((404, ["redemption_not_found"]))},
    )
    def get(self, request, redemption_id):
        # Another storefront's redemption is answered exactly as an id that does not exist.
        mine = selectors.redemptions_with_items().filter(source=request.user.source)
        redemption = mine.filter(pk=redemption_id).first() if is_row_id(redemption_id) else None
        if redemption is None:
            raise RedemptionNotFound(f"No redemption with id {redemption_id}.")
        return Response(s.RedemptionSerializer(redemption).data)


class RedemptionCancelView(APIView):
    @extend_schema(
        operation_id="cancel_redemption",
        request=s.CancelRequest,
        responses={
            200: s.RedemptionSerializer,
            **COMMON_ERRORS,
            **documented_errors(
                (404, ["redemption_not_found"]),
                (422, ["redemption_not_cancellable"]),
            ),
        },
    )
    def post(self, request, redemption_id):
        body = json_object(request, {"reason"})
        redemption = services.cancel_redemption(
            redemption_id=redemption_id, reason=body.get("reason", ""), source=request.user.source
        )
        return Response(_redemption_data(redemption))


@extend_schema_view(
    get=extend_schema(
        operation_id="member_redemptions",
        responses={200: s.RedemptionSerializer(many=True), **MEMBER_ERRORS},
    )
)
class MemberRedemptionsView(generics.ListAPIView):
    queryset = Redemption.objects.none()  # for the schema; get_queryset scopes rows to the member
    serializer_class = s.RedemptionSerializer
    filterset_class = RedemptionFilter
    pagination_class = Pagination

    def get_queryset(self):
        member = get_member(external_id=self.kwargs["external_id"])
        return selectors.member_redemptions(member=member, source=self.request.user.source)


# --- coupons ----------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        operation_id="member_coupons",
        responses={200: s.CouponSerializer(many=True), **MEMBER_ERRORS},
    )
)
class MemberCouponsView(generics.ListAPIView):
    queryset = Coupon.objects.none()  # for the schema; get_queryset scopes rows to the member
    serializer_class = s.CouponSerializer
    filterset_class = CouponFilter
    pagination_class = Pagination

    def get_queryset(self):
        return selectors.member_coupons(member=get_member(external_id=self.kwargs["external_id"]))


COUPON_ERRORS = {**COMMON_ERRORS, **documented_errors((404, ["coupon_not_found"]))}


def _coupon_data(coupon: Coupon) -> dict:
    return s.CouponSerializer(Coupon.objects.select_related("member", "template").get(pk=coupon.pk)).data


class CouponView(APIView):
    @extend_schema(operation_id="get_coupon", responses={200: s.CouponSerializer, **COUPON_ERRORS})
    def get(self, request, code):
        coupon = Coupon.objects.select_related("member", "template").filter(code=code).first()
        if coupon is None:
            raise CouponNotFound(f"No coupon with code {code!r}.")
        return Response(s.CouponSerializer(coupon).data)


class CouponUseView(APIView):
    @extend_schema(
        operation_id="use_coupon",
        request=s.CouponUseRequest,
        responses={
            200: OpenApiResponse(s.CouponSerializer, description="used (or already used for this order)"),
            **COUPON_ERRORS,
            **documented_errors((422, ["coupon_not_usable"])),
        },
    )
    def post(self, request, code):
        body = json_object(request, {"order_id", "order_amount", "member"})
        coupon = services.use_coupon(
            code=code,
            order_id=body.get("order_id"),
            order_amount=body.get("order_amount"),
            member=body.get("member"),
            source=request.user.source,
        )
        return Response(_coupon_data(coupon))


class CouponReleaseView(APIView):
    @extend_schema(
        operation_id="release_coupon",
        request=s.CouponReleaseRequest,
        responses={
            200: s.CouponSerializer,
            **COUPON_ERRORS,
            **documented_errors((422, ["coupon_not_releasable", "coupon_not_usable"])),
        },
    )
    def post(self, request, code):
        body = json_object(request, {"order_id"})
        coupon = services.release_coupon(code=code, order_id=body.get("order_id"), source=request.user.source)
        return Response(_coupon_data(coupon))


# --- points holds -----------------------------------------------------------------------------------


def _hold_data(hold: PointsHold) -> dict:
    return s.HoldSerializer(PointsHold.objects.select_related("member").get(pk=hold.pk)).data


class MemberHoldsView(APIView):
    @extend_schema(
        operation_id="hold_points",
        request=s.HoldRequest,
        responses={
            201: s.HoldSerializer,
            200: OpenApiResponse(s.HoldSerializer, description="a replay of the idempotency_key"),
            **MEMBER_ERRORS,
            **documented_errors(
                (409, ["idempotency_conflict"]),
                (422, ["insufficient_points", "member_frozen", "member_closed"]),
            ),
        },
    )
    def post(self, request, external_id):
        body = json_object(request, {"amount", "order_id", "idempotency_key"})
        outcome = services.hold_points(
            source=request.user.source,
            member=external_id,
            amount=body.get("amount"),
            order_id=body.get("order_id"),
            idempotency_key=body.get("idempotency_key"),
        )
        return _replayable(_hold_data(outcome.hold), outcome.created)


HOLD_ERRORS = {**COMMON_ERRORS, **documented_errors((404, ["hold_not_found"]))}


class HoldView(APIView):
    @extend_schema(operation_id="get_hold", responses={200: s.HoldSerializer, **HOLD_ERRORS})
    def get(self, request, hold_id):
        mine = PointsHold.objects.select_related("member").filter(source=request.user.source)
        hold = mine.filter(pk=hold_id).first() if is_row_id(hold_id) else None
        if hold is None:
            raise HoldNotFound(f"No hold with id {hold_id}.")
        return Response(s.HoldSerializer(hold).data)


class HoldCaptureView(APIView):
    @extend_schema(
        operation_id="capture_hold",
        request=s.CaptureRequest,
        responses={
            200: s.HoldSerializer,
            **HOLD_ERRORS,
            **documented_errors(
                (409, ["idempotency_conflict"]),
                (422, ["hold_not_active", "hold_expired"]),
            ),
        },
    )
    def post(self, request, hold_id):
        body = json_object(request, {"amount"})
        hold = services.capture_hold(hold_id=hold_id, amount=body.get("amount"), source=request.user.source)
        return Response(_hold_data(hold))


class HoldReleaseView(APIView):
    @extend_schema(
        operation_id="release_hold",
        request=None,
        responses={200: s.HoldSerializer, **HOLD_ERRORS},
    )
    def post(self, request, hold_id):
        if request.data:  # no body, or an empty object
            json_object(request, set())
        return Response(_hold_data(services.release_hold(hold_id=hold_id, source=request.user.source)))
