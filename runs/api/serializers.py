"""Serializers of runs and steps (the run history API extends them)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from runs.models import Run, Step


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = Step
        fields = [
            "id",
            "shape_id",
            "shape_name",
            "shape_type",
            "input_index",
            "status",
            "attempts",
            "started_at",
            "finished_at",
            "next_attempt_at",
            "http_status",
            "outputs",
            "error",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    """A run as listed: what it ran, why, and how it went (no payload bodies)."""

    flow_name = serializers.CharField(source="flow.name", read_only=True)
    flow_version_number = serializers.IntegerField(source="flow_version.number", read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id",
            "flow",
            "flow_name",
            "flow_version",
            "flow_version_number",
            "trigger",
            "status",
            "priority",
            "attempt",
            "retry_of",
            "parent_run",
            "queued_at",
            "available_at",
            "started_at",
            "finished_at",
            "stop_requested",
            "error",
            "has_warnings",
            "insights",
            "created_by",
        ]
        read_only_fields = fields

    def get_created_by(self, run: Run) -> str | None:
        user = run.created_by
        return user.get_username() if user is not None else None


class RunDetailSerializer(RunSerializer):
    """A run with its input, variables, final payload and steps."""

    steps = StepSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "input_payload",
            "input_meta",
            "variables",
            "final_payload",
            "steps",
        ]
        read_only_fields = fields


class StartRunSerializer(serializers.Serializer):
    """Input of `POST /api/flows/{id}/runs/`."""

    payload = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate_variables(self, value: dict[str, Any]) -> dict[str, str]:
        return {str(name): str(item) for name, item in value.items()}
