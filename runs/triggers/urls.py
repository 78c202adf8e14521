"""Webhook routes, mounted at /hooks/."""

from django.urls import path

from runs.triggers.webhook import webhook

urlpatterns = [
    path("<str:key>/", webhook, name="webhook"),
]
