"""The tags and segments API: a member's tags (storefronts may set the tags marked api_writable)
and the segments, read-only. Views translate HTTP to service calls and back; they never write models."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns import selectors
from campaigns.models import TagSource
from campaigns.services import tag_member, untag_member
from loyalty.api.common import COMMON_ERRORS, MEMBER_ERRORS, documented_errors, json_object
from members.selectors import get_member

from . import serializers as s

TAG_ERRORS = {**MEMBER_ERRORS, **documented_errors((422, ["unknown_tag", "tag_kept_by_rule", "member_closed"]))}


def _tags_body(member) -> dict:
    rows = selectors.active_tags_of([member.pk], timezone.now()).get(member.pk, [])
    return s.MemberTagsSerializer(
        {
            "tags": [
                {"code": row.tag.code, "name": row.tag.display_name, "source": row.source, "expires_at": row.expires_at}
                for row in rows
            ]
        }
    ).data


class MemberTagsView(APIView):
    @extend_schema(operation_id="list_member_tags", responses={200: s.MemberTagsSerializer, **MEMBER_ERRORS})
    def get(self, request, external_id):
        return Response(_tags_body(get_member(external_id=external_id)))

    @extend_schema(
        operation_id="tag_member",
        request=s.TagRequest,
        responses={
            201: OpenApiResponse(s.MemberTagsSerializer, description="Added: the member's tags"),
            200: OpenApiResponse(s.MemberTagsSerializer, description="The member had it already"),
            **TAG_ERRORS,
        },
    )
    def post(self, request, external_id):
        body = json_object(request, {"tag", "expires_at"})
        valid = s.TagRequest(data=body)
        valid.is_valid(raise_exception=True)
        member = get_member(external_id=external_id)
        _, added = tag_member(
            member=member,
            tag=valid.validated_data["tag"],
            source=TagSource.API,
            storefront=request.user.storefront,
            expires_at=valid.validated_data.get("expires_at"),
        )
        return Response(_tags_body(member), status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)


class MemberTagView(APIView):
    @extend_schema(operation_id="untag_member", request=None, responses={204: None, **TAG_ERRORS})
    def delete(self, request, external_id, code):
        untag_member(
            member=get_member(external_id=external_id),
            tag=code,
            source=TagSource.API,
            storefront=request.user.storefront,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberSegmentsView(APIView):
    @extend_schema(operation_id="list_member_segments", responses={200: s.MemberSegmentsSerializer, **MEMBER_ERRORS})
    def get(self, request, external_id):
        return Response({"segments": selectors.segment_codes_of(get_member(external_id=external_id))})


def _campaign_body(row, running, phase) -> dict:
    terms = running.terms
    multiplier = terms.kind == "multiplier"
    reward = terms.reward
    return {
        "code": row.code,
        "name": str(row),
        "description": row.description,
        "kind": row.kind,
        "status": phase,
        "starts_at": terms.starts_at,
        "ends_at": terms.ends_at,
        "weekdays": list(terms.weekdays),
        "hours": {"from": terms.hours[0].strftime("%H:%M"), "to": terms.hours[1].strftime("%H:%M")}
        if terms.hours
        else None,
        "event_types": list(terms.event_types),
        "points_multiplier": terms.points_multiplier if multiplier else None,
        "growth_multiplier": terms.growth_multiplier if multiplier else None,
        "points": reward.points if reward else terms.points,
        "growth": reward.growth if reward else terms.growth,
        "trigger": terms.trigger.type if terms.trigger else None,
    }


class CampaignsView(APIView):
    @extend_schema(operation_id="list_campaigns", responses={200: s.CampaignListSerializer, **COMMON_ERRORS})
    def get(self, request):
        rows = [_campaign_body(*item) for item in selectors.public_campaigns(timezone.now())]
        return Response(s.CampaignListSerializer({"results": rows}).data)


class MemberCampaignsView(APIView):
    @extend_schema(operation_id="list_member_campaigns", responses={200: s.CampaignListSerializer, **MEMBER_ERRORS})
    def get(self, request, external_id):
        member = get_member(external_id=external_id)
        rows = [_campaign_body(*item) for item in selectors.campaigns_for_member(member, timezone.now())]
        return Response(s.CampaignListSerializer({"results": rows}).data)


class SegmentsView(APIView):
    @extend_schema(operation_id="list_segments", responses={200: s.SegmentListSerializer, **MEMBER_ERRORS})
    def get(self, request):
        rows = [
            {
                "code": segment.code,
                "name": str(segment),
                "member_count": segment.current_version.member_count,
                "computed_at": segment.current_version.computed_at,
            }
            for segment in selectors.active_segments()
        ]
        return Response(s.SegmentListSerializer({"results": rows}).data)
