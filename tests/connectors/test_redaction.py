"""Redaction knows every form a secret takes, and the server log never shows an outbound query string."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import httpx

from connectors.logging import OutboundLogFilter
from connectors.redaction import REDACTED, Redactor
from tests.connectors.conftest import CANARY

SECRET = "p@ss w/rd+=?&\\n"


def test_every_form_of_a_secret_is_replaced() -> None:
    redactor = Redactor([SECRET])
    forms = [
        SECRET,
        repr(SECRET)[1:-1],
        json.dumps(SECRET)[1:-1],
        repr(SECRET.encode())[2:-1],
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
    ]
    for form in forms:
        assert redactor.text(f"before {form} after") == f"before {REDACTED} after", form


def test_headers_and_urls_are_redacted_by_name_and_by_value() -> None:
    redactor = Redactor([CANARY])
    headers = redactor.headers(
        {"Authorization": "Basic abc", "X-Shop-Token": "other", "X-Note": f"has {CANARY}", "Accept": "*/*"}
    )
    assert headers == {
        "Authorization": REDACTED,
        "X-Shop-Token": REDACTED,
        "X-Note": f"has {REDACTED}",
        "Accept": "*/*",
    }
    url = redactor.url(httpx.URL(f"https://user:pw@api.test/x?key={CANARY}&page=2&echo={CANARY}"), {"key"})
    assert CANARY not in url and "pw" not in url and "page=2" in url


def test_nested_values_are_redacted() -> None:
    redactor = Redactor([CANARY])
    assert redactor.value({"a": [CANARY, {"b": f"x{CANARY}"}], CANARY: 1}) == {
        "a": [REDACTED, {"b": f"x{REDACTED}"}],
        REDACTED: 1,
    }


def test_the_outbound_log_filter_cuts_query_strings_of_httpx_records() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s"',
        ("GET", f"https://api.test/x?key={CANARY}", "HTTP/1.1 200 OK"),
        None,
    )
    assert OutboundLogFilter().filter(record) is True
    assert CANARY not in record.getMessage()
    assert "https://api.test/x?***" in record.getMessage()


def test_httpx_and_httpcore_do_not_log_below_warning() -> None:
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpcore.http11").isEnabledFor(logging.INFO)
