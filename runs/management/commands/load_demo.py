"""`manage.py load_demo [--base-url URL]`: create or update the demo connector, scripts and flows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from runs.demo.content import DEFAULT_BASE_URL, load_demo_content


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo connector, endpoints, response scripts and flows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help=f"Base URL of the demo shop API the demo connector calls (default {DEFAULT_BASE_URL}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        content = load_demo_content(base_url=options["base_url"])
        if content.changes:
            for change in content.changes:
                self.stdout.write(f"Demo content: {change}")
        else:
            self.stdout.write("Demo content is up to date.")
        for flow in content.flows.values():
            self.stdout.write(
                f"  flow '{flow.name}' (id {flow.pk}): run it from the app or POST /api/flows/{flow.pk}/runs/"
            )
