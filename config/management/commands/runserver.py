"""`manage.py runserver`: the development server is uvicorn (httptools, uvloop), the production server.

Django's own `runserver` serves WSGI only and daphne's (Channels' `daphne` app) served this project until
session 3; uvicorn served the reference flow W several times faster than daphne on the same machine
(bench/README.md, "Throughput after the engine rework"), so the documented development command and the
production command (docs/deploy.md) are now one server. This command keeps what Django's runserver gives:
address and port parsing (`[addr:]port`, `--ipv6`), the system checks and the unapplied-migrations warning,
Django's autoreloader unless `--noreload` (the server runs in the reloaded child), static files from the
finders when DEBUG is on (or with `--insecure`), the printed URL, and CONTROL-C stopping the server and the
embedded executor (config.asgi starts it in this process; its `atexit` stop lets running steps finish).

uvicorn is run through its documented programmatic interface (`uvicorn.Config` + `uvicorn.Server`) with
the application object, so the autoreloader is Django's (it also watches templates and re-runs the checks)
rather than uvicorn's, which needs an import string and a supervisor process of its own.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
from datetime import datetime
from types import FrameType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.runserver import Command as DjangoRunserverCommand
from django.db import connections
from django.utils import autoreload
from django.utils.module_loading import import_string

SERVER_ERRORS = {
    errno.EACCES: "You don't have permission to access that port.",
    errno.EADDRINUSE: "That port is already in use.",
    errno.EADDRNOTAVAIL: "That IP address can't be assigned to.",
}


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class Command(DjangoRunserverCommand):
    help = "Starts the development server: uvicorn (httptools, uvloop) serving the ASGI application."
    # Set by Django's `handle` from the [addr:]port argument.
    addr: str
    port: str
    use_ipv6: bool
    _raw_ipv6: bool

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        if apps.is_installed("django.contrib.staticfiles"):
            parser.add_argument(
                "--nostatic",
                action="store_false",
                dest="use_static_handler",
                help="Do not serve static files at STATIC_URL from the finders.",
            )
            parser.add_argument(
                "--insecure",
                action="store_true",
                dest="insecure_serving",
                help="Serve static files even if DEBUG is False.",
            )
        parser.add_argument(
            "--access-log",
            action="store_true",
            dest="access_log",
            default=None,
            help="Log every request (the default with DEBUG on).",
        )
        parser.add_argument(
            "--no-access-log",
            action="store_false",
            dest="access_log",
            help="Do not log every request (the default with DEBUG off).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "ASGI_APPLICATION", None):
            raise CommandError("ASGI_APPLICATION is not set: there is no application to serve.")
        super().handle(*args, **options)

    def get_application(self, options: dict[str, Any]) -> Any:
        application = import_string(settings.ASGI_APPLICATION)
        use_static = options.get("use_static_handler", apps.is_installed("django.contrib.staticfiles"))
        if use_static and (settings.DEBUG or options.get("insecure_serving", False)):
            from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

            return ASGIStaticFilesHandler(application)
        return application

    def inner_run(self, *args: Any, **options: Any) -> None:
        import uvicorn

        autoreload.raise_last_exception()
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        for connection in connections.all(initialized_only=True):
            connection.close()

        # Django's runserver reads "0" as every address (`runserver 0:8000`), as asked for.
        host = "0.0.0.0" if self.addr == "0" else self.addr  # noqa: S104
        try:
            # Bound here rather than by uvicorn: a precise message for a port in use, and the banner can give
            # the real port when asked for port 0.
            listener = socket.create_server(
                (host, int(self.port)),
                family=socket.AF_INET6 if self.use_ipv6 else socket.AF_INET,
                backlog=2048,
            )
        except OSError as error:
            self.stderr.write(f"Error: {SERVER_ERRORS.get(error.errno or 0, error)}")
            # sys.exit does not end the process from the autoreloader's thread.
            os._exit(1)
        access_log = options.get("access_log")
        if access_log is None:
            access_log = settings.DEBUG
        # Importing the application (config.asgi) starts the embedded executor in this process.
        application = self.get_application(options)
        config = uvicorn.Config(
            application,
            http="httptools",
            loop="uvloop",
            ws="websockets-sansio",
            lifespan="off",
            # Django's LOGGING stays in charge: uvicorn's loggers propagate to its root handler.
            log_config=None,
            access_log=access_log,
            server_header=False,
        )
        server = uvicorn.Server(config)
        self._print_banner(host, listener.getsockname()[1])
        if threading.current_thread() is threading.main_thread():
            # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler it found:
            # with the default one the process would die there, before `atexit` stops the executor.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            server.run(sockets=[listener])
        except KeyboardInterrupt:
            shutdown_message = options.get("shutdown_message", "")
            if shutdown_message:
                self.stdout.write(shutdown_message)
            sys.exit(0)

    def _print_banner(self, host: str, port: int) -> None:
        import uvicorn

        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        address = f"[{host}]" if self._raw_ipv6 else host
        now = datetime.now().strftime("%B %d, %Y - %X")
        self.stdout.write(
            f"{now}\n"
            f"Django version {self.get_version()}, using settings {settings.SETTINGS_MODULE!r}\n"
            f"Starting ASGI/uvicorn {uvicorn.__version__} development server at "
            f"{self.protocol}://{address}:{port}/\n"
            f"Quit the server with {quit_command}."
        )
