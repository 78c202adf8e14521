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
    flow_version_number = serializers.IntegerField(
        source="flow_version.number", read_only=True, allow_null=True
    )
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
            "is_test",
        ]
        read_only_fields = fields

    def get_created_by(self, run: Run) -> str | None:
        user = run.created_by
        return user.get_username() if user is not None else None


# Payload strings (and each string value of input_meta / variables) in a run detail are cut to this many
# UTF-8 bytes; `<field>_truncated` says whether anything of that field was cut.
DETAIL_TEXT_LIMIT_BYTES = 64 * 1024


def cut_text(text: str | None, limit: int = DETAIL_TEXT_LIMIT_BYTES) -> tuple[str | None, bool]:
    """`text` cut to at most `limit` UTF-8 bytes (never inside a character), and whether it was cut."""
    if text is None or len(text) * 4 <= limit:
        return text, False
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, False
    return encoded[:limit].decode("utf-8", errors="ignore"), True


def cut_mapping(value: Any) -> tuple[Any, bool]:
    """A dict whose string values are cut like `cut_text`, and whether any was cut."""
    if not isinstance(value, dict):
        return value, False
    out: dict[str, Any] = {}
    truncated = False
    for key, item in value.items():
        if isinstance(item, str):
            item, cut = cut_text(item)
            truncated = truncated or cut
        out[key] = item
    return out, truncated


class RunDetailSerializer(RunSerializer):
    """A run with its input, variables, final payload and steps (long strings cut to 64 KiB)."""

    input_payload = serializers.SerializerMethodField()
    input_payload_truncated = serializers.SerializerMethodField()
    input_meta = serializers.SerializerMethodField()
    input_meta_truncated = serializers.SerializerMethodField()
    variables = serializers.SerializerMethodField()
    variables_truncated = serializers.SerializerMethodField()
    final_payload = serializers.SerializerMethodField()
    final_payload_truncated = serializers.SerializerMethodField()
    retried_by = serializers.SerializerMethodField(help_text="The run that retries this one (at most one).")
    steps = StepSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [
            *RunSerializer.Meta.fields,
            "input_payload",
            "input_payload_truncated",
            "input_meta",
            "input_meta_truncated",
            "variables",
            "variables_truncated",
            "final_payload",
            "final_payload_truncated",
            "retried_by",
            "steps",
        ]
        read_only_fields = fields

    def get_input_payload(self, run: Run) -> str | None:
        return cut_text(run.input_payload)[0]

    def get_input_payload_truncated(self, run: Run) -> bool:
        return cut_text(run.input_payload)[1]

    def get_input_meta(self, run: Run) -> dict[str, Any]:
        return cut_mapping(run.input_meta)[0]

    def get_input_meta_truncated(self, run: Run) -> bool:
        return cut_mapping(run.input_meta)[1]

    def get_variables(self, run: Run) -> dict[str, Any]:
        return cut_mapping(run.variables)[0]

    def get_variables_truncated(self, run: Run) -> bool:
        return cut_mapping(run.variables)[1]

    def get_final_payload(self, run: Run) -> str | None:
        return cut_text(run.final_payload)[0]

    def get_final_payload_truncated(self, run: Run) -> bool:
        return cut_text(run.final_payload)[1]

    def get_retried_by(self, run: Run) -> int | None:
        return Run.objects.filter(retry_of=run).values_list("id", flat=True).first()


class StartRunSerializer(serializers.Serializer):
    """Input of `POST /api/flows/{id}/runs/`."""

    payload = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    def validate_variables(self, value: dict[str, Any]) -> dict[str, str]:
        return {str(name): str(item) for name, item in value.items()}
