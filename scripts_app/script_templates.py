"""The code a new script starts from, by kind."""

from __future__ import annotations

GENERAL_TEMPLATE = """import json


def handle(data):
    # data["payload"]   : str or None - the payload as a string; decode it yourself (json.loads)
    # data["variables"] : dict str -> str - the variables of this shape
    # data["meta"]      : dict str -> str - payload metadata (at most 10240 bytes in total)
    # data["flow"]      : {"id", "name", "run_id", "variables": {...}}; changes to
    #                     data["flow"]["variables"] last for the rest of this run only
    #
    # Return the (possibly changed) dict. Optional: data["logs"] = ["a line for the run log", ...].
    # print() output goes to the run log too. Allowed imports: json, re, math, datetime, time, decimal,
    # hashlib, hmac, base64, uuid, random, itertools, functools, collections, string, urllib.parse, csv,
    # xml.etree.ElementTree.
    if data["payload"]:
        document = json.loads(data["payload"])
        document["processed"] = True
        data["payload"] = json.dumps(document)
    return data
"""

RESPONSE_TEMPLATE = """import json


def handle(data):
    # data["response"] : {"status": int, "headers": {str: str}, "body": str} - the HTTP response
    # data["payload"], data["variables"], data["meta"], data["flow"] as in every script.
    #
    # Set data["response_code"] to decide what happens next:
    #   0 continue (the returned payload, or the response body if unchanged, goes on)
    #   1 fail this step and retry it after a backoff (up to the shape's retries)
    #   2 fail the run and queue a new attempt of it, up to the flow's run retries (flow settings;
    #     with 0 run retries code 2 fails the run for good)
    #   3 fail the run for good
    #   4 re-authenticate the connector and retry the request once
    # and data["message"] to write a line to the run log.
    response = data["response"]
    status = response["status"]
    if status == 429 or status >= 500:
        data["response_code"] = 1
        data["message"] = f"Server busy ({status}), retrying"
    elif status >= 400:
        data["response_code"] = 3
        data["message"] = f"Request refused ({status}): {response['body'][:200]}"
    else:
        data["response_code"] = 0
        data["payload"] = response["body"]
    return data
"""

TEMPLATES = {
    "general": {"label": "General script (script shape, map transform)", "code": GENERAL_TEMPLATE},
    "response": {"label": "Response script (connector shape)", "code": RESPONSE_TEMPLATE},
}


def template_for(kind: str) -> str:
    return TEMPLATES.get(kind, TEMPLATES["general"])["code"]
