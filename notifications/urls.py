"""Routes of the alert API under /api/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from notifications.api import AlertDeliveryViewSet, FlowAlertSettingsView, NotificationChannelViewSet

router = SimpleRouter()
router.register("notification-channels", NotificationChannelViewSet, basename="notification-channel")
router.register("alert-deliveries", AlertDeliveryViewSet, basename="alert-delivery")

urlpatterns = [
    path("flows/<int:flow_id>/alerts/", FlowAlertSettingsView.as_view(), name="flow-alerts"),
    *router.urls,
]
