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
