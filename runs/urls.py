"""HTTP routes of the runs app: the run control and history API under /api/, webhooks, health checks."""

from django.urls import include, path

urlpatterns = [
    path("api/", include("runs.api.control")),
    path("api/", include("runs.api.history")),
    path("hooks/", include("runs.triggers.urls")),
    path("", include("runs.health")),
]
