"""Designer API routes, mounted under /api/ by config.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from designer import api

router = SimpleRouter()
router.register("connectors", api.ConnectorViewSet, basename="connector")
router.register("endpoints", api.EndpointViewSet, basename="endpoint")
router.register("flows", api.FlowViewSet, basename="flow")

urlpatterns = [
    path("shape-types/", api.ShapeTypeListView.as_view(), name="shape-types"),
    *router.urls,
]
