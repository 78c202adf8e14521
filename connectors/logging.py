"""Keeps secrets out of the server log: httpx and httpcore log every request URL (API keys in the query
included) at INFO / DEBUG. Settings lower those loggers to WARNING; `OutboundLogFilter` on the log handlers
is the second line for anyone who turns them up again: it cuts query strings and user info from the URLs
in their records."""

from __future__ import annotations

import logging
import re

URL_WITH_QUERY = re.compile(r"(?P<scheme>https?://)(?:[^\s/@\"']+@)?(?P<rest>[^\s?\"'#]*)\?[^\s\"'#]*")
OUTBOUND_LOGGERS = ("httpx", "httpcore")


def strip_url_secrets(text: str) -> str:
    return URL_WITH_QUERY.sub(lambda m: f"{m['scheme']}{m['rest']}?***", text)


class OutboundLogFilter(logging.Filter):
    """Rewrites records of httpx / httpcore (and their children) without query strings or user info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in OUTBOUND_LOGGERS:
            message = record.getMessage()
            cleaned = strip_url_secrets(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True
