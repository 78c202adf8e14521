"""Split: one output payload per element (JSON list items, lines, CSV rows with the header, XML elements)."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree

import jmespath
from jmespath.exceptions import JMESPathError

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload


def _json_items(text: str, path: str) -> list[str]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise StepFailed(f"Split: the payload is not JSON ({exc}).") from exc
    try:
        found = jmespath.search(path or "@", document)
    except JMESPathError as exc:
        raise StepFailed(f"Split: invalid JMESPath {path!r}: {exc}") from exc
    if found is None:
        return []
    if not isinstance(found, list):
        raise StepFailed(f"Split: path {path!r} does not point to a list.")
    return [json.dumps(element, ensure_ascii=False) for element in found]


def _csv_rows(text: str, header: bool) -> list[str]:
    rows = list(csv.reader(io.StringIO(text)))
    rows = [row for row in rows if row]
    if not rows:
        return []
    head, body = (rows[0], rows[1:]) if header else (None, rows)
    out = []
    for row in body:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if head is not None:
            writer.writerow(head)
        writer.writerow(row)
        out.append(buffer.getvalue())
    return out


def _xml_elements(text: str, element: str) -> list[str]:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise StepFailed("Split: XML payloads with a DOCTYPE or entities are refused.")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - DOCTYPE / entities refused above
    except ElementTree.ParseError as exc:
        raise StepFailed(f"Split: the payload is not XML ({exc}).") from exc
    found = [root] if root.tag == element else list(root.iter(element))
    return [ElementTree.tostring(node, encoding="unicode").strip() for node in found]


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    text = item.payload or ""
    style = settings.get("format") or "json"
    if style == "json":
        parts = _json_items(text, str(settings.get("path") or "@"))
    elif style == "lines":
        parts = [line for line in text.splitlines() if line.strip()]
    elif style == "csv":
        parts = _csv_rows(text, bool(settings.get("header", True)))
    elif style == "xml":
        if not settings.get("element"):
            raise StepFailed("Split: the xml format needs an element name.")
        parts = _xml_elements(text, str(settings["element"]))
    else:
        raise StepFailed(f"Split: unknown format {style!r}.")
    return Outcome.ok([Emit(part, dict(item.meta)) for part in parts])
