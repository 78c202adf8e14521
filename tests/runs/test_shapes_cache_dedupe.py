"""The cache_add, cache_load and dedupe shapes through the engine and the API: semantics, validation,
export / import, pruning, and what holds when runs execute them concurrently."""

from __future__ import annotations

import datetime
import json
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from flowstore.models import CacheEntry, DedupeKey
from runs import services
from runs.models import Run
from runs.retention import prune_runs
from tests.runs.conftest import run_once, shape

pytestmark = pytest.mark.django_db


def _run(flow, payload: str | None = None) -> Run:
    return run_once(services.enqueue_run(flow=flow, trigger="api", payload=payload))


def _outputs(run: Run, shape_id: str) -> list[str | None]:
    step = run.steps.get(shape_id=shape_id)
    return [p.body for p in step.payloads.filter(direction="output").order_by("index")]


# --- cache --------------------------------------------------------------------------------------------------
def test_replace_keeps_the_last_payload_and_append_keeps_every_one(make_flow):
    store = make_flow([shape("add", "cache_add", cache="latest", scope="global")])
    collect = make_flow([shape("add", "cache_add", cache="all", scope="global", mode="append")])
    load_latest = make_flow([shape("load", "cache_load", cache="latest", scope="global")])
    load_all = make_flow([shape("load", "cache_load", cache="all", scope="global")])
    for number in (1, 2, 3):
        assert _run(store, f'{{"n": {number}}}').status == Run.Status.SUCCEEDED
        assert _run(collect, f'{{"n": {number}}}').status == Run.Status.SUCCEEDED

    assert _outputs(_run(load_latest), "load") == ['{"n": 3}']
    assert _outputs(_run(load_all), "load") == ['{"n": 1}', '{"n": 2}', '{"n": 3}']


def test_the_cache_key_template_and_scope_keep_entries_apart(make_flow):
    add = shape("add", "cache_add", cache="customers", key="[[payload.id]]")
    load = shape(
        "load", "cache_load", cache="customers", key="[[payload.id]]", missing="empty", name="Load customer"
    )
    flow = make_flow([add])
    reader = make_flow([load])
    same_flow_reader = make_flow([add, load])
    _run(flow, '{"id": "c1", "name": "Ada"}')

    # Flow scope: another flow does not see the first flow's entries.
    assert _outputs(_run(reader, '{"id": "c1"}'), "load") == [""]
    # Inside one flow, each key has its own slot.
    run = _run(same_flow_reader, '{"id": "c2", "name": "Bo"}')
    assert _outputs(run, "load") == ['{"id": "c2", "name": "Bo"}']


def test_run_scope_is_private_to_the_run(make_flow):
    flow = make_flow(
        [
            shape("add", "cache_add", cache="seen", scope="run", mode="append"),
            shape("load", "cache_load", cache="seen", scope="run"),
        ]
    )
    first = _run(flow, '"a"')
    second = _run(flow, '"b"')
    assert _outputs(first, "load") == ['"a"'] and _outputs(second, "load") == ['"b"']


@pytest.mark.parametrize(
    ("missing", "status", "outputs"), [("empty", "succeeded", [""]), ("skip", "succeeded", [])]
)
def test_a_cache_miss_emits_an_empty_payload_or_nothing(make_flow, missing, status, outputs):
    run = _run(make_flow([shape("load", "cache_load", cache="nothing-here", missing=missing)]))
    assert run.status == status
    assert _outputs(run, "load") == outputs


def test_a_rendered_key_longer_than_500_bytes_fails_the_step(make_flow):
    run = _run(
        make_flow([shape("add", "cache_add", cache="c", key="[[payload.k]]")]), json.dumps({"k": "é" * 300})
    )
    assert run.status == Run.Status.FAILED
    assert "the key is 600 bytes long (at most 500)" in run.error


def test_a_cache_miss_fails_the_step_by_default(make_flow):
    run = _run(make_flow([shape("load", "cache_load", cache="nothing-here", key="k1")]))
    assert run.status == Run.Status.FAILED
    assert "Nothing in cache 'nothing-here' (flow scope) under key 'k1'" in run.error


def test_expired_entries_are_not_loaded_and_are_pruned_with_the_run_history(make_flow):
    add = make_flow([shape("add", "cache_add", cache="short", scope="global", ttl_hours=1)])
    load = make_flow([shape("load", "cache_load", cache="short", scope="global", missing="skip")])
    _run(add, '"x"')
    CacheEntry.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

    assert _outputs(_run(load), "load") == []
    prune_runs()
    assert CacheEntry.objects.count() == 0


# --- de-dupe ------------------------------------------------------------------------------------------------
def test_filter_and_track_passes_each_key_once_across_runs(make_flow):
    flow = make_flow([shape("dedupe", "dedupe", pool="orders", key_path="id")])
    first = _run(flow, '[{"id": 1}, {"id": 2}, {"id": 2}]')
    second = _run(flow, '[{"id": 2}, {"id": 3}]')
    third = _run(flow, '[{"id": 1}]')

    assert json.loads(_outputs(first, "dedupe")[0]) == [{"id": 1}, {"id": 2}]
    assert json.loads(_outputs(second, "dedupe")[0]) == [{"id": 3}]
    assert _outputs(third, "dedupe") == [] and third.status == Run.Status.SUCCEEDED
    assert third.log_lines.filter(message="De-dupe 'orders': 0 passed, 1 already seen").exists()


def test_filter_only_reads_and_track_only_records(make_flow):
    track = make_flow([shape("d", "dedupe", pool="p", key_path="sku", mode="track")])
    only_filter = make_flow([shape("d", "dedupe", pool="p", key_path="sku", mode="filter")])

    assert _outputs(_run(only_filter, '{"sku": "A"}'), "d") == ['{"sku": "A"}']
    assert _outputs(_run(only_filter, '{"sku": "A"}'), "d") == ['{"sku": "A"}']  # nothing was recorded
    assert _outputs(_run(track, '[{"sku": "A"}, {"sku": "B"}]'), "d") == ['[{"sku": "A"}, {"sku": "B"}]']
    assert _outputs(_run(track, '{"sku": "A"}'), "d") == ['{"sku": "A"}']  # track never removes
    assert json.loads(_outputs(_run(only_filter, '[{"sku": "A"}, {"sku": "C"}]'), "d")[0]) == [{"sku": "C"}]


def test_an_item_without_a_key_fails_the_step(make_flow):
    run = _run(make_flow([shape("d", "dedupe", pool="p", key_path="order.id")]), '[{"order": {"id": 1}}, {}]')
    assert run.status == Run.Status.FAILED
    assert "key_path 'order.id' finds no key in item 2" in run.error


def test_keys_past_their_retention_count_as_new_and_are_pruned(make_flow):
    flow = make_flow([shape("d", "dedupe", pool="p", key_path="id", retention_days=1)])
    _run(flow, '{"id": 9}')
    DedupeKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert _outputs(_run(flow, '{"id": 9}'), "d") == ['{"id": 9}']
    DedupeKey.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    prune_runs()
    assert DedupeKey.objects.count() == 0


# --- validation and export / import ------------------------------------------------------------------------
def _validate(client, flow_id: int, shapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    trigger = shape("trigger", "trigger", kind="manual")
    connections = [{"source": "trigger", "target": s["id"]} for s in shapes]
    response = client.post(
        f"/api/flows/{flow_id}/validate/",
        {"shapes": [trigger, *shapes], "connections": connections},
        format="json",
    )
    return response.json()["errors"]


def test_settings_of_the_new_shapes_are_validated(make_flow, editor_client):
    flow = make_flow([])
    errors = _validate(
        editor_client,
        flow.pk,
        [
            shape("a", "cache_add", cache="", scope="planet", mode="merge", ttl_hours=0),
            shape("l", "cache_load", missing="maybe"),
            shape("d", "dedupe", pool="p", key_path="[", mode="forget", retention_days=0),
        ],
    )
    found = {(error["shape"], error["setting"]) for error in errors}
    assert found >= {
        ("a", "cache"),
        ("a", "scope"),
        ("a", "mode"),
        ("a", "ttl_hours"),
        ("l", "cache"),
        ("l", "missing"),
        ("d", "key_path"),
        ("d", "mode"),
        ("d", "retention_days"),
    }
    good = [
        shape("a", "cache_add", cache="c", scope="run", key="[[payload.id]]", mode="append", ttl_hours=2),
        shape("l", "cache_load", cache="c", missing="skip"),
        shape("d", "dedupe", pool="p", key_path="id", mode="filter", retention_days=30),
    ]
    assert _validate(editor_client, flow.pk, good) == []


def test_flows_with_the_new_shapes_export_and_import(make_flow, editor_client):
    shapes = [
        shape("a", "cache_add", cache="c", scope="global", mode="append", ttl_hours=2),
        shape("l", "cache_load", cache="c", scope="global", missing="empty"),
        shape("d", "dedupe", pool="orders", key_path="id", mode="filter_and_track", retention_days=30),
    ]
    flow = make_flow(shapes, name="Stateful")
    document = editor_client.get(f"/api/flows/{flow.pk}/export/").json()

    response = editor_client.post("/api/flows/import/", {**document, "name": "Stateful copy"}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["errors"] == []
    copy = response.json()["id"]
    again = editor_client.get(f"/api/flows/{copy}/export/").json()
    assert again["graph"] == document["graph"]
    settings = {s["id"]: s["settings"] for s in again["graph"]["shapes"]}
    assert settings["a"] == shapes[0]["settings"] and settings["d"] == shapes[2]["settings"]
    assert editor_client.post(f"/api/flows/{copy}/deploy/", format="json").status_code == 201


# --- concurrency --------------------------------------------------------------------------------------------
def _execute_concurrently(runs: list[Run]) -> None:
    barrier = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def work(run: Run, number: int) -> None:
        try:
            barrier.wait()
            run_once(run, worker_id=f"worker-{number}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(run, n)) for n, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_appends_from_20_concurrent_runs_keep_all_20_entries(make_flow):
    collect = make_flow([shape("add", "cache_add", cache="batch", scope="global", mode="append")])
    runs = [services.enqueue_run(flow=collect, trigger="api", payload=f'{{"n": {n}}}') for n in range(20)]

    _execute_concurrently(runs)

    assert Run.objects.filter(flow=collect, status=Run.Status.SUCCEEDED).count() == 20
    load = make_flow([shape("load", "cache_load", cache="batch", scope="global")])
    loaded = _outputs(_run(load), "load")
    assert sorted(json.loads(text)["n"] for text in loaded) == list(range(20))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_dedupe_from_20_concurrent_runs_passes_each_key_once(make_flow):
    flow = make_flow([shape("dedupe", "dedupe", pool="shared", key_path="id")])
    runs = [
        services.enqueue_run(
            flow=flow, trigger="api", payload=json.dumps([{"id": 1}, {"id": 2}, {"id": 3}, {"id": 100 + n}])
        )
        for n in range(20)
    ]

    _execute_concurrently(runs)

    passed: Counter[int] = Counter()
    for run in Run.objects.filter(flow=flow):
        assert run.status == Run.Status.SUCCEEDED, run.error
        for text in _outputs(run, "dedupe"):
            passed.update(item["id"] for item in json.loads(text))
    assert passed == Counter({1: 1, 2: 1, 3: 1, **{100 + n: 1 for n in range(20)}})
