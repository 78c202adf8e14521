"""DRF permission enforcing the roles of config.roles on every API view."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from config import roles


class RolePermission(BasePermission):
    """Anonymous: 401 (raised by DRF). Any role may read; admin and editor may write.

    A view can require more for writes by setting `write_roles = {"admin"}`.
    """

    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return roles.can_read(user)
        write_roles = getattr(view, "write_roles", {roles.ADMIN, roles.EDITOR})
        return bool(roles.roles_of(user) & set(write_roles))


class CanReadOnly(RolePermission):
    """For POST actions that only read (for example a dry-run validation): any role may call them."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and roles.can_read(user))


class CanWrite(RolePermission):
    """For views whose reads are only for those who may write (a webhook URL starts runs): admin, editor."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and roles.can_write(user))
