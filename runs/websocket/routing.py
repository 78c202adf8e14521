"""Websocket routes (DESIGN section 8)."""

from django.urls import path

from runs.websocket.consumers import RunConsumer, RunsFeedConsumer

websocket_urlpatterns = [
    path("ws/runs/", RunsFeedConsumer.as_asgi()),
    path("ws/runs/<int:run_id>/", RunConsumer.as_asgi()),
]
