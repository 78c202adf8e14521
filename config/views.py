"""Views that belong to the project rather than one app: the app shell and the current user."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import roles


@login_required
def app_shell(request: HttpRequest) -> HttpResponse:
    """The HTML page that loads the frontend bundle built by Vite (served through django-vite)."""
    return render(request, "app.html", {"roles": sorted(roles.roles_of(request.user))})


class MeView(APIView):
    """Who is calling, and what their role lets them do (the frontend hides what it cannot do)."""

    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "roles": serializers.ListField(child=serializers.CharField()),
                "can_write": serializers.BooleanField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.get_username(),
                "roles": sorted(roles.roles_of(user)),
                "can_write": roles.can_write(user),
            }
        )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a URL no route matches (`handler404`): the API's JSON error shape under /api/, else HTML."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "errors": []}, status=404)
    return defaults.page_not_found(request, exception)
