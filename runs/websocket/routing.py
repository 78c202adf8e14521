"""Websocket routes (DESIGN section 8)."""

from django.urls import path

websocket_urlpatterns: list = []  # filled by the live-logs issue: /ws/runs/ and /ws/runs/<id>/
_ = path
