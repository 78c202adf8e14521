"""Prometheus metrics served at /metrics.

Run, queue and step figures are read from the database at scrape time, so every web process reports the
same totals whatever process executed the runs. Process-local gauges (websocket watchers, script pool) are
per process: scrape each web process, or sum them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Count, DurationField, ExpressionWrapper, F
from django.utils import timezone
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

WEBSOCKET_WATCHERS = Gauge(
    "patchbay_websocket_watchers", "Open websocket connections in this process", ["route"], registry=REGISTRY
)

STEP_WINDOW = dt.timedelta(minutes=5)


class DatabaseCollector(Collector):
    def describe(self) -> Iterator[Metric]:
        # Without this the registry (auto_describe) would call collect(), querying the database as soon as
        # this module is imported (the websocket consumers import it at ASGI start-up).
        yield GaugeMetricFamily("patchbay_queue_depth", "", labels=["priority"])
        yield GaugeMetricFamily("patchbay_queue_due", "")
        yield CounterMetricFamily("patchbay_runs", "", labels=["status"])
        yield GaugeMetricFamily("patchbay_steps_recent", "", labels=["shape_type", "status"])
        yield GaugeMetricFamily("patchbay_step_latency_seconds", "", labels=["shape_type", "quantile"])

    def collect(self) -> Iterator[Metric]:
        from runs.models import Run, Step

        depth = GaugeMetricFamily(
            "patchbay_queue_depth", "Queued runs by priority (0 = manual runs)", labels=["priority"]
        )
        queued = (
            Run.objects.filter(status=Run.Status.QUEUED)
            .values("priority")
            .annotate(n=Count("id"))
            .order_by("priority")
        )
        for row in queued:
            depth.add_metric([str(row["priority"])], row["n"])
        yield depth

        due = GaugeMetricFamily("patchbay_queue_due", "Queued runs whose available_at has passed")
        due.add_metric(
            [], Run.objects.filter(status=Run.Status.QUEUED, available_at__lte=timezone.now()).count()
        )
        yield due

        runs_total = CounterMetricFamily(
            "patchbay_runs", "Runs in the history by status (started = not queued)", labels=["status"]
        )
        for status_row in Run.objects.values("status").annotate(n=Count("id")).order_by("status"):
            runs_total.add_metric([status_row["status"]], status_row["n"])
        yield runs_total

        since = timezone.now() - STEP_WINDOW
        duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        steps = (
            Step.objects.filter(finished_at__gte=since, started_at__isnull=False)
            .annotate(duration=duration)
            .values("shape_type", "status", "duration")
        )
        per_type: dict[tuple[str, str], list[float]] = {}
        for step_row in steps.iterator(chunk_size=2000):
            seconds = step_row["duration"].total_seconds() if step_row["duration"] is not None else 0.0
            per_type.setdefault((step_row["shape_type"], step_row["status"]), []).append(seconds)
        count = GaugeMetricFamily(
            "patchbay_steps_recent", "Steps finished in the last 5 minutes", labels=["shape_type", "status"]
        )
        latency = GaugeMetricFamily(
            "patchbay_step_latency_seconds",
            "Step latency over the last 5 minutes",
            labels=["shape_type", "quantile"],
        )
        by_type: dict[str, list[float]] = {}
        for (shape_type, status), values in sorted(per_type.items()):
            count.add_metric([shape_type, status], len(values))
            by_type.setdefault(shape_type, []).extend(values)
        for shape_type, values in sorted(by_type.items()):
            values.sort()
            for quantile in (0.5, 0.9, 0.99):
                index = min(len(values) - 1, int(quantile * len(values)))
                latency.add_metric([shape_type, str(quantile)], values[index])
        yield count
        yield latency


class ScriptPoolCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        workers = GaugeMetricFamily(
            "patchbay_script_pool_workers", "Script worker processes in this process's pool", labels=["state"]
        )
        try:
            from scripts_app.sandbox.pool import pool_stats
        except ImportError:
            return
        for state, value in pool_stats().items():
            workers.add_metric([state], value)
        yield workers


REGISTRY.register(DatabaseCollector())
REGISTRY.register(ScriptPoolCollector())
