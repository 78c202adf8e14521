"""`manage.py load_demo [--host HOST] [--port PORT | --base-url URL]`: create the demo connector, endpoints,
response scripts and flows, or bring up to date what is still as the demo left it (`demo.content`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.content import DEFAULT_HOST, DEFAULT_PORT, demo_api_url, load_demo_content


class Command(BaseCommand):
    help = (
        "Create the demo content, or bring up to date what nobody changed since the last load. The demo "
        "connector calls the demo API of the server on --host/--port (those `make run` serves on)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST, help="Address the server listens on.")
        parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Port the server listens on.")
        parser.add_argument(
            "--base-url", help="Where the demo connector reaches the demo API, instead of --host / --port."
        )
        parser.add_argument(
            "--skip-if-off",
            action="store_true",
            help="Say so and do nothing when PATCHBAY_DEMO is off, instead of failing (make run).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.PATCHBAY_DEMO:
            if options["skip_if_off"]:
                self.stdout.write("The demo is off (PATCHBAY_DEMO): no demo content loaded.")
                return
            raise CommandError(
                "The demo is off, so the server does not serve the demo API under /demo-api/: "
                "set PATCHBAY_DEMO=1 (make run does) and load it again."
            )
        base_url = options["base_url"] or demo_api_url(host=options["host"], port=options["port"])
        content = load_demo_content(base_url=base_url)
        for change in content.changes:
            self.stdout.write(f"Demo content: {change}")
        for kept in content.kept:
            self.stdout.write(f"Demo content: {kept}")
        if not content.changes and not content.kept:
            self.stdout.write("Demo content is up to date.")
        self.stdout.write(f"  the demo connector calls {content.connector.base_url}")
        for flow in content.flows.values():
            self.stdout.write(
                f"  flow '{flow.name}' (id {flow.pk}): run it from the app or POST /api/flows/{flow.pk}/runs/"
            )
