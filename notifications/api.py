"""Alert API: `/api/notification-channels/` (CRUD), `/api/flows/{id}/alerts/` (a flow's alert settings)
and `/api/alert-deliveries/` (what was sent, read-only). Any role reads; admin and editor write."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from designer.graph.specs import Email
from designer.models import Flow
from notifications import services
from notifications.models import AlertDelivery, FlowAlertSettings, NotificationChannel


class NotificationChannelSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Webhook: the HMAC signing secret. Apprise: its URLs, one per line. Never returned.",
    )
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = NotificationChannel
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "config",
            "secret",
            "has_secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_secret", "created_at", "updated_at"]

    def get_has_secret(self, channel: NotificationChannel) -> bool:
        return bool(channel.secret)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        config = attrs.get("config", getattr(self.instance, "config", {}) if self.instance else {})
        if not isinstance(config, dict):
            raise serializers.ValidationError({"config": "Must be an object."})
        if kind == NotificationChannel.Kind.EMAIL:
            to = config.get("to")
            if not isinstance(to, list) or not to:
                raise serializers.ValidationError(
                    {"config": "An email channel needs 'to': a list of addresses."}
                )
            bad = [address for address in to if Email().check(address, "to")]
            if bad:
                raise serializers.ValidationError({"config": f"Not email addresses: {bad!r}."})
            attrs["config"] = {"to": [str(address) for address in to]}
        elif kind == NotificationChannel.Kind.WEBHOOK:
            url = config.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
                raise serializers.ValidationError(
                    {"config": "A webhook channel needs 'url': an http(s) URL."}
                )
            headers = config.get("headers") or {}
            if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
                raise serializers.ValidationError({"config": "'headers' must be an object of names to text."})
            attrs["config"] = {"url": url, "headers": headers}
        elif kind == NotificationChannel.Kind.APPRISE:
            attrs["config"] = {}
            secret = attrs.get("secret")
            if secret is None and not (self.instance and self.instance.secret):
                raise serializers.ValidationError(
                    {"secret": "An Apprise channel needs its URLs, one per line."}
                )
            if secret is not None:
                _check_apprise_urls(secret)
        return attrs

    def create(self, validated_data: dict[str, Any]) -> NotificationChannel:
        secret = validated_data.pop("secret", None)
        return services.save_channel(secret=secret, **validated_data)

    def update(self, instance: NotificationChannel, validated_data: dict[str, Any]) -> NotificationChannel:
        secret = validated_data.pop("secret", None)
        return services.save_channel(channel=instance, secret=secret, **validated_data)


def _check_apprise_urls(text: str) -> None:
    import apprise

    urls = [line.strip() for line in text.splitlines() if line.strip()]
    if not urls:
        raise serializers.ValidationError({"secret": "An Apprise channel needs at least one URL."})
    for index, url in enumerate(urls, start=1):
        if not apprise.Apprise().add(url):
            raise serializers.ValidationError({"secret": f"Apprise does not understand URL {index}."})


class NotificationChannelViewSet(viewsets.ModelViewSet):
    queryset = NotificationChannel.objects.all()
    serializer_class = NotificationChannelSerializer
    pagination_class = None


class FlowAlertSettingsSerializer(serializers.Serializer):
    channels = serializers.PrimaryKeyRelatedField(many=True, queryset=NotificationChannel.objects.all())
    outcomes = serializers.ListField(
        child=serializers.ChoiceField(choices=services.OUTCOMES), allow_empty=True
    )
    interval_minutes = serializers.IntegerField(min_value=0, max_value=10080)
    error_flow = serializers.PrimaryKeyRelatedField(queryset=Flow.objects.all(), allow_null=True)
    last_alert_at = serializers.DateTimeField(read_only=True)
    suppressed = serializers.IntegerField(read_only=True)


def _settings_data(alert_settings: FlowAlertSettings) -> dict[str, Any]:
    return {
        "channels": [channel.pk for channel in alert_settings.channels.all()] if alert_settings.pk else [],
        "outcomes": list(alert_settings.outcomes or []),
        "interval_minutes": alert_settings.interval_minutes,
        "error_flow": alert_settings.error_flow_id,
        "last_alert_at": alert_settings.last_alert_at,
        "suppressed": alert_settings.suppressed,
    }


class FlowAlertSettingsView(APIView):
    @extend_schema(responses={200: FlowAlertSettingsSerializer})
    def get(self, request: Request, flow_id: int) -> Response:
        flow = get_object_or_404(Flow, pk=flow_id)
        return Response(_settings_data(services.alert_settings_of(flow)))

    @extend_schema(request=FlowAlertSettingsSerializer, responses={200: FlowAlertSettingsSerializer})
    def put(self, request: Request, flow_id: int) -> Response:
        flow = get_object_or_404(Flow, pk=flow_id)
        serializer = FlowAlertSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["error_flow"] is not None and data["error_flow"].pk == flow.pk:
            raise serializers.ValidationError({"error_flow": "A flow cannot be its own error flow."})
        saved = services.save_alert_settings(
            flow=flow,
            channels=data["channels"],
            outcomes=data["outcomes"],
            interval_minutes=data["interval_minutes"],
            error_flow=data["error_flow"],
        )
        return Response(_settings_data(saved))


class AlertDeliverySerializer(serializers.ModelSerializer):
    channel_name = serializers.CharField(source="channel.name", read_only=True)

    class Meta:
        model = AlertDelivery
        fields = [
            "id",
            "channel",
            "channel_name",
            "flow",
            "run",
            "outcome",
            "alert",
            "status",
            "attempts",
            "last_error",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class AlertDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertDeliverySerializer

    def get_queryset(self) -> QuerySet[AlertDelivery]:
        deliveries = AlertDelivery.objects.select_related("channel").order_by("-id")
        for name in ("flow", "run", "channel"):
            raw = self.request.query_params.get(name)
            if raw:
                if not raw.isdigit():
                    raise serializers.ValidationError({name: "Expected an id."})
                deliveries = deliveries.filter(**{f"{name}_id": int(raw)})
        return deliveries
