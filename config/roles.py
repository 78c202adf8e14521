"""The three roles of Patchbay, kept as Django groups (created by a designer migration).

- admin:  everything, including the Django admin and user management.
- editor: build and deploy flows, scripts and connectors; start, stop and retry runs.
- viewer: read only.
"""

from __future__ import annotations

from typing import Any

ADMIN = "admin"
EDITOR = "editor"
VIEWER = "viewer"
ROLES = (ADMIN, EDITOR, VIEWER)


def roles_of(user: Any) -> set[str]:
    """The role names a user holds; a superuser holds them all. Cached on the user object per request."""
    if user is None or not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(ROLES)
    cached = getattr(user, "_patchbay_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._patchbay_roles = cached
    return cached


def can_read(user: Any) -> bool:
    return bool(roles_of(user))


def can_write(user: Any) -> bool:
    return bool(roles_of(user) & {ADMIN, EDITOR})


def is_admin(user: Any) -> bool:
    return ADMIN in roles_of(user)
