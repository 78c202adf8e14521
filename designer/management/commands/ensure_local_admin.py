"""Create a local admin account when no superuser exists, and say how to log in (used by `make run`)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local admin account when none exists and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        password_file = settings.VAR_DIR / "local-admin-password.txt"
        if User.objects.filter(is_superuser=True).exists():
            user = User.objects.filter(is_superuser=True).order_by("pk").first()
            assert user is not None
            if password_file.exists() and user.check_password(password_file.read_text().strip()):
                self._say(user.username, password_file.read_text().strip())
            else:
                self.stdout.write(f"Log in as an existing superuser (for example '{user.username}').")
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username="admin", email="admin@localhost", password=password)
        user.groups.add(Group.objects.get(name="admin"))
        password_file.write_text(password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Created the local admin account."))
        self._say(user.username, password)

    def _say(self, username: str, password: str) -> None:
        self.stdout.write(
            f"Log in at http://127.0.0.1:8000/ as '{username}' with password '{password}' "
            f"(also in var/local-admin-password.txt)."
        )
