"""The Celery app used when PATCHBAY_EXECUTOR=celery (`celery -A config worker` / `celery -A config beat`).

Broker: PATCHBAY_REDIS_URL. Beat sends the run sweep every 5 s (expired leases, due runs nobody claimed),
the schedule trigger check every 15 s and the run-history pruning hourly.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("patchbay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "sweep-runs": {"task": "runs.sweep_runs", "schedule": 5.0},
    "fire-schedules": {"task": "runs.fire_schedules", "schedule": 15.0},
    "prune-runs": {"task": "runs.prune_runs", "schedule": 3600.0},
    "redeliver-alerts": {"task": "notifications.redeliver_stale_alerts", "schedule": 300.0},
}
# Runs wait on HTTP and on the script worker processes, not on this process's CPU: threads are the
# cheap way to run PATCHBAY_WORKERS of them at once, and they share one script pool per worker process.
# `celery -A config worker --pool=prefork` still works when preferred.
app.conf.worker_pool = os.environ.get("PATCHBAY_CELERY_POOL", "threads")
app.conf.worker_concurrency = int(os.environ.get("PATCHBAY_WORKERS", "4"))
# One queue per deployment (tests give each worker a queue of its own on a shared Redis).
app.conf.task_default_queue = os.environ.get("PATCHBAY_CELERY_QUEUE", "celery")
# Delayed runs are sent with an ETA; Redis must not redeliver them before that while they sit unacked.
app.conf.broker_transport_options = {"visibility_timeout": 3600}
