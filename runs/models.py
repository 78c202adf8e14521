"""Runs, their steps, connector attempts, run log lines, payloads and schedule firings.

The database row is the truth: executors claim a queued run with a conditional UPDATE and hold a lease while
they execute it; the pending work items are checkpointed on the run after every step.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        STOPPED = "stopped"
        PARTIAL_SUCCESS = "partial_success"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.STOPPED, Status.PARTIAL_SUCCESS)

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        API = "api"
        WEBHOOK = "webhook"
        SCHEDULE = "schedule"
        RUN_FLOW = "run_flow"
        RETRY = "retry"

    flow = models.ForeignKey("designer.Flow", on_delete=models.CASCADE, related_name="runs")
    flow_version = models.ForeignKey("designer.FlowVersion", on_delete=models.PROTECT, related_name="runs")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Queue order: lower priority number first (0 = manual runs, ahead of flows' 1-5), then oldest id.
    priority = models.PositiveSmallIntegerField(default=3)
    attempt = models.PositiveIntegerField(default=1)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="child_runs"
    )
    # The runs that led to this one, oldest first: [{"run": id, "flow": id}, ...] (runs/chain.py).
    trigger_chain = models.JSONField(default=list, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    stop_requested = models.BooleanField(default=False)
    input_payload = models.TextField(null=True, blank=True)
    input_meta = models.JSONField(default=dict, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    # Pending work items and run-scoped state, rewritten after every step (crash recovery resumes here).
    checkpoint = models.JSONField(default=dict, blank=True)
    final_payload = models.TextField(null=True, blank=True)
    error = models.TextField(blank=True)
    has_warnings = models.BooleanField(default=False)
    # Last log line sequence number handed out (runs.logs.write_log increments it under the row lock).
    log_seq = models.PositiveIntegerField(default=0)
    # Filled when the run ends: duration, steps, HTTP calls, bytes in / out, script CPU time.
    insights = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A test run executes the flow's draft as it was when the run was queued (`test_graph`, a snapshot:
    # the draft keeps changing under the canvas) without deploying it; `flow_version` is that draft row.
    is_test = models.BooleanField(default=False)
    test_graph = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "priority", "available_at", "id"], name="run_queue_order"),
            models.Index(fields=["flow", "status"], name="run_flow_status"),
            models.Index(fields=["status", "lease_expires_at"], name="run_lease"),
            # The per-flow webhook rate limit counts a flow's recent webhook runs (runs/triggers/webhook.py).
            models.Index(fields=["flow", "trigger", "queued_at"], name="run_flow_trigger_queued"),
        ]
        # At most one retry of a run, whoever asks (the API, bulk actions, response code 2): concurrent
        # requests race on this constraint, not on a read-then-write (runs/retries.py).
        constraints = [models.UniqueConstraint(fields=["retry_of"], name="one_retry_per_run")]

    def __str__(self) -> str:
        # The flow's name, not its id: "Run 5 of 3" read as "the fifth of three runs" in the admin.
        return f"Run {self.pk} of {self.flow.name} ({self.status})"

    @property
    def graph_to_run(self) -> dict:
        """The graph this run executes: the draft snapshot of a test run, else its flow version's."""
        if self.is_test and self.test_graph is not None:
            return self.test_graph
        return self.flow_version.graph or {}

    @property
    def version_label(self) -> str:
        """What the run executes, for log lines: "flow version 3" or "test run of the draft"."""
        return "test run of the draft" if self.is_test else f"flow version {self.flow_version.number}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL


class WorkItem(models.Model):
    """A pending work item of a run (a shape and the payload it is to execute on).

    One row per item, inserted and deleted in the transaction that records each step, so checkpointing a
    run with thousands of pending items (after a split) costs the step's own items, not all of them. The
    engine treats a run's items as a stack: the highest id is executed next.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="work_items")
    data = models.JSONField()

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "id"], name="workitem_run_order")]

    def __str__(self) -> str:
        return f"Work item {self.pk} of run {self.run_id}: {self.data.get('shape')}"


class Step(models.Model):
    """One execution of one shape on one input payload inside a run."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        RETRYING = "retrying"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"
        STOPPED = "stopped"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    shape_id = models.CharField(max_length=200)
    shape_name = models.CharField(max_length=200, blank=True)
    shape_type = models.CharField(max_length=32)
    input_index = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outputs = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "shape_id"], name="step_run_shape")]

    def __str__(self) -> str:
        return f"Step {self.shape_id}[{self.input_index}] of run {self.run_id}"


class Attempt(models.Model):
    """One connection attempt of a connector step: the request and response, secrets redacted."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="connector_attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0)
    request = models.JSONField(default=dict)
    response = models.JSONField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # continue | retry_step | retry_run | fail_run | reauthenticate | transport_error
    outcome = models.CharField(max_length=32)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["step", "number", "id"]

    def __str__(self) -> str:
        return f"Attempt {self.number} of step {self.step_id}"


class LogLine(models.Model):
    class Level(models.TextChoices):
        DEBUG = "debug"
        INFO = "info"
        WARNING = "warning"
        ERROR = "error"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="log_lines")
    seq = models.PositiveIntegerField()
    ts = models.DateTimeField()
    level = models.CharField(max_length=8, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["run", "seq"]
        constraints = [models.UniqueConstraint(fields=["run", "seq"], name="unique_log_seq_per_run")]
        indexes = [models.Index(fields=["ts"], name="logline_ts")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.level}: {self.message[:80]}"


class Payload(models.Model):
    """An input or output payload of a step. Small bodies live in `body`, large ones in `file`."""

    class Direction(models.TextChoices):
        INPUT = "input"
        OUTPUT = "output"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="payloads")
    step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.CASCADE, related_name="payloads")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    index = models.PositiveIntegerField(default=0)
    body = models.TextField(null=True, blank=True)
    file = models.FileField(upload_to="payloads/%Y/%m/%d/", null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.direction} payload {self.index} of run {self.run_id}"


class PayloadContent(models.Model):
    """One stored payload text, by its SHA-256: Payload rows, work items and checkpoints refer to its file
    by `name`. runs.payloads writes and touches it; runs.retention deletes the file once nothing refers to
    it and it has not been used for the payload retention time."""

    sha256 = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=300, unique=True)
    size = models.PositiveBigIntegerField(default=0)
    last_used_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size} bytes)"


class ScheduleFiring(models.Model):
    """One due time of a scheduled flow; the unique constraint makes it fire once across schedulers."""

    flow = models.ForeignKey("designer.Flow", on_delete=models.CASCADE, related_name="schedule_firings")
    due_at = models.DateTimeField()
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["flow", "due_at"], name="schedule_fires_once")]

    def __str__(self) -> str:
        return f"{self.flow_id} at {self.due_at.isoformat()}"
