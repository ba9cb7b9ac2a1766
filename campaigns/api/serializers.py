"""Request and response bodies of the tags and segments endpoints."""

from __future__ import annotations

from rest_framework import serializers

from loyalty.api.request_fields import required_text


class MemberTagSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    # A field named like Field.source, which DRF's metaclass takes off the class; only the stubs mind.
    source = serializers.ChoiceField(choices=["manual", "rule", "import", "api"])  # type: ignore[assignment]
    expires_at = serializers.DateTimeField(allow_null=True)


class MemberTagsSerializer(serializers.Serializer):
    tags = MemberTagSerializer(many=True)


class TagRequest(serializers.Serializer):
    tag = required_text(64)  # the schema states the text check the service makes (no NUL, not blank)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class SegmentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    member_count = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)


class MemberSegmentsSerializer(serializers.Serializer):
    segments = serializers.ListField(child=serializers.CharField())


class SegmentListSerializer(serializers.Serializer):
    results = SegmentSerializer(many=True)


# "from" is a Python keyword: the class is made with its fields by name.
CampaignHoursSerializer = type(
    "CampaignHoursSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.CharField(help_text='"HH:MM" in the program time zone'),
        "to": serializers.CharField(help_text='"HH:MM"; earlier than "from": runs past midnight'),
    },
)


class CampaignSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=["multiplier", "bonus", "grant", "triggered"])
    status = serializers.ChoiceField(choices=["scheduled", "running"])
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    weekdays = serializers.ListField(child=serializers.IntegerField(), help_text="ISO weekdays; empty: every day")
    hours = CampaignHoursSerializer(allow_null=True)
    event_types = serializers.ListField(child=serializers.CharField(), help_text="multiplier and bonus")
    points_multiplier = serializers.DecimalField(max_digits=6, decimal_places=3, allow_null=True)
    growth_multiplier = serializers.DecimalField(max_digits=6, decimal_places=3, allow_null=True)
    points = serializers.IntegerField(help_text="a bonus's points per event, or a reward's points")
    growth = serializers.IntegerField(help_text="a bonus's growth per event, or a reward's growth")
    trigger = serializers.CharField(allow_null=True, help_text="triggered campaigns: the trigger's type")


class CampaignListSerializer(serializers.Serializer):
    results = CampaignSerializer(many=True)
