"""Create a local admin account when no superuser exists, and say how to log in (used by `make run`)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser

from config.local_url import local_url


class Command(BaseCommand):
    help = "Create the local admin account when none exists and print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        # `make run` passes the HOST and PORT it serves on, so the printed login URL is the real one.
        parser.add_argument("--host", default="127.0.0.1", help="Address the server listens on.")
        parser.add_argument("--port", type=int, default=8000, help="Port the server listens on.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.login_url = local_url(options["host"], options["port"], "/login/")
        password_file = settings.VAR_DIR / "local-admin-password.txt"
        if User.objects.filter(is_superuser=True).exists():
            user = User.objects.filter(is_superuser=True).order_by("pk").first()
            assert user is not None
            if password_file.exists() and user.check_password(password_file.read_text().strip()):
                self._say(user.username, password_file.read_text().strip())
            else:
                self.stdout.write(
                    f"Log in at {self.login_url} as an existing superuser (for example '{user.username}')."
                )
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
            f"Log in at {self.login_url} as '{username}' with password '{password}' "
            f"(also in var/local-admin-password.txt)."
        )
