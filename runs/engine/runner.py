"""The graph walk of one claimed run (DESIGN section 3).

What must survive a crash is written in the same transaction that records each finished step:

- the pending work items, one `WorkItem` row each: a stack, the highest id executes next (depth-first, so a
  branch's whole path finishes before the next branch starts). A step deletes its own item and inserts its
  outputs' items, so a split into thousands of payloads does not rewrite them all after every step.
- `Run.checkpoint`, the small run-scoped state: `{"started", "flow_variables", "counters": {shape id:
  inputs so far}, "stats", "next_token", "caught": [try tokens sent down catch], "partial", "final"}`.

A work item is `{"shape", "index", "payload" | "file", "meta", "scopes", "step"?}`. `index` is the step's
input index, handed out when the item is created, so a resumed run finds the Step row an interrupted
attempt left behind instead of creating a second one. `scopes` records the branch and try / catch shapes the
payload passed through (for "stop later branches" and "send down catch").
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from connectors.auth import graph_redactor
from connectors.redaction import Redactor
from runs.conditions import ConditionError
from runs.engine.context import StepContext
from runs.engine.graph import Graph
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload
from runs.engine.shapes import execute_shape
from runs.errors import ConnectorError, PayloadTooLarge
from runs.events import emit_run_event
from runs.lifecycle import (
    LeaseLost,
    backoff_delay,
    extend_lease,
    finish_run,
    release_for_retry,
    save_checkpoint,
)
from runs.logs import new_log_line
from runs.models import LogLine, Payload, Run, Step, WorkItem
from runs.payloads import (
    INLINE_LIMIT,
    build_payload,
    check_payload_size,
    payload_size,
    save_payload_file,
    storable_text,
)
from runs.rows import insert_rows, update_by_pk, update_row
from runs.templating import TemplateError

logger = logging.getLogger(__name__)

# The longest `Retry-After` an upstream can make a step wait (one day).
RETRY_AFTER_LIMIT = 86400.0
# What the connector shape asks its lease to cover: the request timeout (the connector's, 30 s unless set)
# times the factor it allows a whole request (runs.engine.shapes.connector.TOTAL_TIME_FACTOR).
DEFAULT_CONNECTOR_TIMEOUT = 30.0
CONNECTOR_TIME_FACTOR = 2
# Shapes that do no I/O and finish in microseconds: their Step row is inserted with the step's result in
# the checkpoint transaction instead of when the step starts (a crash in between runs them again, as it
# would anyway). Steps of every other kind (connector, script, notify, run_flow, ...) get their row at
# once, so an interrupted attempt stays recorded and watchers see the step running.
INSTANT_SHAPES = frozenset(
    {
        "trigger",
        "map",
        "filter",
        "route",
        "branch",
        "split",
        "flow_control",
        "set_variables",
        "manual_payload",
        "assert",
        "try_catch",
    }
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def step_event(step: Step) -> dict[str, Any]:
    return {
        "type": "run.step",
        "step": {
            "id": step.pk,
            "shape_id": step.shape_id,
            "shape_name": step.shape_name,
            "shape_type": step.shape_type,
            "input_index": step.input_index,
            "status": step.status,
            "attempts": step.attempts,
            "started_at": _iso(step.started_at),
            "finished_at": _iso(step.finished_at),
            "next_attempt_at": _iso(step.next_attempt_at),
            "http_status": step.http_status,
            "outputs": step.outputs,
            "error": step.error,
        },
    }


def _string_meta(meta: dict[str, Any] | None) -> dict[str, str]:
    return {
        str(k): v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in (meta or {}).items()
    }


class Runner:
    def __init__(self, run: Run, *, worker_id: str) -> None:
        self.run = run
        self.worker_id = worker_id
        self.graph = Graph({})
        self.state: dict[str, Any] = {}
        self.lease_until: datetime | None = run.lease_expires_at
        self.first_item = True
        # The in-memory copy of the run's WorkItem rows (top of the stack last); "_row" is a row's id.
        self.items: list[dict[str, Any]] = []
        self.deleted_rows: list[int] = []
        # Every secret a connector shape of this run sent; redacted from what the run stores and shows.
        self.redactor = Redactor()
        # The journal of the step in progress: log lines and payload rows not written yet. They go to the
        # database together, in the transaction that records the step (numbered there, see
        # runs.lifecycle.save_checkpoint), so a step costs a few statements instead of one per row.
        self.lines: list[LogLine] = []
        self.payloads: list[Payload] = []
        self.finished = False
        # The next blocking step's row, inserted (status running) with the previous step's checkpoint:
        # (its work item, the Step, the input text). See `_open_next_step`.
        self.opened: tuple[dict[str, Any], Step, str | None] | None = None

    # --- the journal --------------------------------------------------------------------------------------
    def log(self, *, step: Step | None, level: str, message: str, data: Any = None) -> None:
        """Add a line to the run log; it is stored (and sent to watchers) with the step's checkpoint."""
        if self.redactor:
            message, data = self.redactor.text(message), self.redactor.value(data)
        self.lines.append(
            new_log_line(run_id=self.run.pk, step=step, level=level, message=message, data=data)
        )

    def _redacted(self, text: str | None) -> str | None:
        """The copy of `text` that may be stored or shown (the connectors' secrets replaced)."""
        return self.redactor.optional_text(text) if self.redactor else text

    def _take_lines(self) -> list[LogLine]:
        lines, self.lines = self.lines, []
        return lines

    def _write_step(self, step: Step, fields: list[str], *, payloads: bool = True) -> None:
        """Save `step` (insert an instant step, else update `fields`) and, unless told not to, the pending
        payload rows (a succeeded step's go with the next step's input, `_flush_payloads`)."""
        # Plain SQL built once per process (runs.rows): the ORM's per-call compiling was most of a step's CPU.
        if step.pk is None:
            insert_rows([step])
        else:
            update_row(step, fields)
        if payloads:
            self._flush_payloads()

    def _flush_payloads(self) -> None:
        """Insert the journal's payload rows (one statement), inside the step's transaction."""
        if self.payloads:
            insert_rows(self.payloads)
            self.payloads = []

    # --- payload references in the checkpoint --------------------------------------------------------
    def _payload_ref(self, text: str | None, file_name: str | None = None) -> dict[str, Any]:
        if text is not None and payload_size(text) > INLINE_LIMIT:
            return {"file": file_name or save_payload_file(text)}
        return {"payload": text}

    def _load(self, ref: dict[str, Any]) -> str | None:
        if ref.get("file"):
            with default_storage.open(ref["file"], "rb") as handle:
                return handle.read().decode("utf-8")
        return ref.get("payload")

    # --- lease --------------------------------------------------------------------------------------------
    def extend_lease(self, seconds: float) -> None:
        until = timezone.now() + timedelta(seconds=seconds + settings.PATCHBAY_LEASE_SECONDS)
        # Half a lease of slack: the checkpoint before a blocking step already made the lease this long
        # (`_lease_allowance`), give or take the milliseconds since then.
        slack = timedelta(seconds=settings.PATCHBAY_LEASE_SECONDS / 2)
        if self.lease_until is not None and self.lease_until >= until - slack:
            return
        extend_lease(run=self.run, worker_id=self.worker_id, until=until)
        self.lease_until = until

    # --- the walk -----------------------------------------------------------------------------------------
    def execute(self) -> None:
        self.graph = Graph(self.run.graph_to_run)
        checkpoint = self.run.checkpoint or {}
        if checkpoint.get("started"):
            # Resumed: earlier steps' connectors sent secrets that the data in flight may still carry.
            self.redactor.extend(graph_redactor(self.run.flow_version.graph or {}))
            self.state = checkpoint
            self.items = [
                {**row.data, "_row": row.pk} for row in WorkItem.objects.filter(run=self.run).order_by("id")
            ]
            self.log(
                step=None,
                level=LogLine.Level.INFO,
                message=(f"Run resumed (attempt {self.run.attempt}); {len(self.items)} work item(s) pending"),
            )
        else:
            # A fresh run has no Step row an interrupted attempt could have left behind.
            self.first_item = False
            self.state = self._initial_state()
            self.items = [self._trigger_item()]
            self.log(
                step=None,
                level=LogLine.Level.INFO,
                message=(f"Run started (attempt {self.run.attempt}, {self.run.version_label})"),
            )
        # A step retry's wait is the run's `available_at`: once claimed, the run is due, so the item on
        # top (the retry) executes at once.
        while self.items:
            if not self._process(self._pop()):
                return
        if not self.finished:
            self._finish(self._success_status())

    def _success_status(self) -> str:
        return Run.Status.PARTIAL_SUCCESS if self.state.get("partial") else Run.Status.SUCCEEDED

    def _trigger_item(self) -> dict[str, Any]:
        return {
            "shape": self.graph.trigger_id(),
            "index": 0,
            **self._payload_ref(self.run.input_payload),
            "meta": _string_meta(self.run.input_meta),
            "scopes": [],
        }

    def _initial_state(self) -> dict[str, Any]:
        trigger = self.graph.trigger_id()
        return {
            "started": True,
            "flow_variables": {str(k): v for k, v in (self.run.variables or {}).items()},
            "counters": {trigger: 1},
            "stats": {"steps": 0, "http_calls": 0, "bytes_in": 0, "bytes_out": 0, "script_cpu_ms": 0},
            "next_token": 1,
            "caught": [],
            "partial": False,
            "final": None,
        }

    def _save_checkpoint(self) -> bool:
        """Persist the state and renew the lease; returns whether a stop was requested. Raises LeaseLost.

        Called inside the transaction that records the step."""
        stop = save_checkpoint(
            run=self.run,
            worker_id=self.worker_id,
            checkpoint=self.state,
            lines=self._take_lines(),
            extra_lease_seconds=self._lease_allowance(),
        )
        if not stop:
            self._open_next_step()
        self._flush_payloads()
        self._flush_items()
        self.lease_until = self.run.lease_expires_at
        return stop

    def _open_next_step(self) -> None:
        """Insert the Step row (status running) and input payload of the next work item when it is a
        blocking step, in the checkpoint transaction of the step before: the step that starts a moment
        later needs no transaction of its own before it blocks. Its work item names the row ("step"), so a
        worker that dies before the step ends leaves it recorded and the resumed run attempts it again in
        the same row (at least once per step, as before)."""
        if not self.items:
            return
        item = self.items[-1]
        if item.get("step") or "_row" in item:
            return  # a step retry's row, or an item an earlier step stored: opened when it executes
        shape = self.graph.shape(item["shape"])
        if str(shape.get("type")) in INSTANT_SHAPES:
            return
        text = self._load(item)
        step = self._new_step(item, shape, text, now=timezone.now())
        self._write_step(step, [])
        emit_run_event(self.run.pk, step_event(step))
        item["step"] = step.pk
        self.opened = (item, step, text)

    def _lease_allowance(self) -> float:
        """How long the next step may block (its own extend_lease would ask for this much): folded into the
        checkpoint's lease renewal, so the step does not need an UPDATE of its own before it blocks."""
        if not self.items:
            return 0.0
        shape = self.graph.shape(self.items[-1]["shape"])
        kind = shape.get("type")
        if kind == "script":
            return float(settings.PATCHBAY_SCRIPT_TIMEOUT)
        if kind == "connector":
            timeout = (shape.get("settings") or {}).get("timeout")
            try:
                seconds = float(timeout) if timeout not in (None, "", 0) else DEFAULT_CONNECTOR_TIMEOUT
            except (TypeError, ValueError):
                seconds = DEFAULT_CONNECTOR_TIMEOUT
            return seconds * CONNECTOR_TIME_FACTOR
        return 0.0

    # --- the work item stack -------------------------------------------------------------------------
    def _pop(self) -> dict[str, Any]:
        item = self.items.pop()
        row = item.pop("_row", None)
        if row is not None:
            self.deleted_rows.append(row)
        return item

    def _push(self, items: list[dict[str, Any]]) -> None:
        """Push `items` so that the first of them executes next."""
        self.items.extend(reversed(items))

    def _flush_items(self) -> None:
        """Mirror the stack into WorkItem rows (inside the step's transaction)."""
        new = [item for item in self.items if "_row" not in item]
        if len(self.deleted_rows) == 1 and len(new) == 1 and self.items[-1] is new[0]:
            # A step of a chain: its own row (the top of the stack) now holds the next item, still on top.
            reused = self.deleted_rows.pop()
            update_by_pk(WorkItem, reused, {"data": new[0]})
            new[0]["_row"] = reused
            return
        if self.deleted_rows:
            WorkItem.objects.filter(run=self.run, pk__in=self.deleted_rows).delete()
            self.deleted_rows = []
        if new:
            rows = [WorkItem(run_id=self.run.pk, data=item) for item in new]
            insert_rows(rows)
            for item, row in zip(new, rows, strict=True):
                item["_row"] = row.pk

    # --- one step -----------------------------------------------------------------------------------------
    def _new_step(
        self, item: dict[str, Any], shape: dict[str, Any], text: str | None, *, now: datetime
    ) -> Step:
        """A new, unsaved Step for `item` (attempt 1, running) with its input payload in the journal."""
        step = Step(
            run=self.run,
            shape_id=str(shape["id"]),
            shape_name=str(shape.get("name") or shape["id"])[:200],
            shape_type=str(shape.get("type")),
            input_index=item["index"],
            status=Step.Status.RUNNING,
            started_at=now,
            attempts=1,
        )
        shown = self._redacted(text)
        self.payloads.append(
            build_payload(
                run=self.run,
                step=step,
                direction=Payload.Direction.INPUT,
                index=0,
                text=shown,
                meta=self.redactor.value(item.get("meta")),
                file_name=item.get("file") if shown == text else None,
            )
        )
        self.state["stats"]["steps"] += 1
        return step

    def _open_step(self, item: dict[str, Any], shape: dict[str, Any], text: str | None) -> Step:
        now = timezone.now()
        step: Step | None = None
        first_item, self.first_item = self.first_item, False
        opened, self.opened = self.opened, None
        if opened is not None and opened[0] is item:
            # Inserted with the previous step's checkpoint, which has just committed.
            return opened[1]
        if item.get("step"):
            step = Step.objects.filter(pk=item["step"], run=self.run).first()
            if step is not None and step.status == Step.Status.RUNNING:
                # Opened with the checkpoint before it (or a retry that was under way): a worker died.
                self.log(
                    step=step,
                    level=LogLine.Level.WARNING,
                    message=f"Step '{step.shape_name}' resumed after an interrupted attempt",
                )
        elif first_item:
            # Only the item on top when a worker died can have a Step row the checkpoint does not know.
            step = Step.objects.filter(
                run=self.run, shape_id=item["shape"], input_index=item["index"]
            ).first()
            if step is not None:
                self.log(
                    step=step,
                    level=LogLine.Level.WARNING,
                    message=f"Step '{step.shape_name}' resumed after an interrupted attempt",
                )
        if step is None:
            step = self._new_step(item, shape, text, now=now)
            if step.shape_type not in INSTANT_SHAPES:
                with transaction.atomic(savepoint=False):
                    self._write_step(step, [])
                emit_run_event(self.run.pk, step_event(step))
            return step
        step.attempts += 1
        step.status = Step.Status.RUNNING
        step.next_attempt_at = None
        step.started_at = step.started_at or now
        update_row(step, ["attempts", "status", "next_attempt_at", "started_at"])
        emit_run_event(self.run.pk, step_event(step))
        return step

    def _run_shape(self, context: StepContext, work: WorkPayload) -> Outcome:
        try:
            outcome = execute_shape(str(context.shape.get("type")), context, work)
        except (LeaseLost, OperationalError, InterfaceError):
            # The database is unreachable (a dropped connection, a restart): an outage of the executor, not
            # a failure of the flow. execute_run abandons the run; it resumes when its lease expires.
            raise
        except StepFailed as exc:
            return Outcome.fail(exc.message)
        except (TemplateError, ConditionError, PayloadTooLarge) as exc:
            return Outcome.fail(str(exc))
        except ConnectorError as exc:
            return Outcome.retry(exc.message) if exc.retryable else Outcome.fail(exc.message)
        except Exception as exc:
            logger.exception("Shape %s of run %s raised", context.shape_id, self.run.pk)
            return Outcome.fail(
                f"Unexpected error in shape '{context.shape_name}': {type(exc).__name__}: {exc}"
            )
        if outcome.kind == "continue":
            try:
                for emit in outcome.emits:
                    check_payload_size(emit.payload)
            except PayloadTooLarge as exc:
                return Outcome.fail(str(exc), http_status=outcome.http_status)
        return outcome

    def _process(self, item: dict[str, Any]) -> bool:
        """Execute one work item. Returns False when the run ended or must wait (stop walking)."""
        shape = self.graph.shape(item["shape"])
        opened = self.opened
        text = opened[2] if opened is not None and opened[0] is item else self._load(item)
        step = self._open_step(item, shape, text)
        work = WorkPayload(payload=text, meta=dict(item.get("meta") or {}))
        context = StepContext(runner=self, step=step, shape=shape)
        outcome = self._run_shape(context, work)
        # The error becomes the step's and maybe the run's error and log lines: never with a secret in it.
        outcome.error = self.redactor.text(outcome.error)
        if outcome.http_status is not None:
            step.http_status = outcome.http_status
        if outcome.kind == "retry":
            retries = _int(context.settings.get("retries"), 0)
            if step.attempts <= retries:
                with transaction.atomic():
                    self._schedule_retry(item, step, context, outcome)
                return False
            outcome = Outcome.fail(
                f"{outcome.error} (gave up after {step.attempts} attempt(s))", http_status=outcome.http_status
            )
        # The step's result, its output payloads, its log lines, the new work items and the checkpoint
        # commit together: a crash leaves either the step unfinished (it runs again on resume) or all of it
        # recorded. When the step was the last work item, the run's end commits with it.
        with transaction.atomic(savepoint=False):
            if outcome.kind == "continue":
                self._succeed(item, step, outcome, text)
            elif not self._fail_step(item, step, outcome):
                return False
            if not self.items:
                self._finish(self._success_status(), stop_if_requested=True)
                return False
            stop = self._save_checkpoint()
        if stop:
            self._finish(Run.Status.STOPPED, error="Stopped on request.")
            return False
        return True

    def _succeed(self, item: dict[str, Any], step: Step, outcome: Outcome, work_text: str | None) -> None:
        shape_id = item["shape"]
        last = self.graph.is_last(shape_id)
        new_items: list[dict[str, Any]] = []
        scope_token: int | None = None
        for index, emit in enumerate(outcome.emits):
            emit.payload = storable_text(emit.payload)
            meta = _string_meta(emit.meta)
            shown = self._redacted(emit.payload)
            stored = build_payload(
                run=self.run,
                step=step,
                direction=Payload.Direction.OUTPUT,
                index=index,
                text=shown,
                meta=self.redactor.value(meta),
            )
            self.payloads.append(stored)
            # The redacted copy is only for people: the next shapes get the payload as it was.
            shared_file = stored.file.name if stored.file and shown == emit.payload else None
            # Unredacted and referenced only by work items, that file goes with them (runs.retention).
            ref = self._payload_ref(emit.payload, shared_file)
            if last:
                self.state["final"] = ref
            scopes = list(item.get("scopes") or [])
            if emit.scope == "branch":
                if scope_token is None:
                    scope_token = self._token()
                scopes.append(
                    {"kind": "branch", "shape": shape_id, "token": scope_token, "order": emit.order}
                )
            elif emit.scope == "try":
                scopes.append(
                    {
                        "kind": "try",
                        "shape": shape_id,
                        "token": self._token(),
                        **self._payload_ref(work_text, item.get("file")),
                        "meta": dict(item.get("meta") or {}),
                    }
                )
            for connection in self.graph.connections(shape_id, label=emit.label, order=emit.order):
                new_items.append(self._new_item(str(connection["target"]), ref, meta, scopes))
        # The first output (branch 1, the first split item) runs first.
        self._push(new_items)
        step.status = Step.Status.SUCCEEDED
        step.finished_at = timezone.now()
        step.outputs = len(outcome.emits)
        step.error = ""
        # Its payload rows are inserted with the next step's input or the run's end, in this transaction.
        self._write_step(step, ["status", "finished_at", "outputs", "error", "http_status"], payloads=False)
        emit_run_event(self.run.pk, step_event(step))

    def _new_item(
        self, shape_id: str, ref: dict[str, Any], meta: dict[str, str], scopes: list[dict[str, Any]]
    ) -> dict[str, Any]:
        counters = self.state["counters"]
        index = counters.get(shape_id, 0)
        counters[shape_id] = index + 1
        return {"shape": shape_id, "index": index, **ref, "meta": meta, "scopes": scopes}

    def _token(self) -> int:
        token = int(self.state.get("next_token", 1))
        self.state["next_token"] = token + 1
        return token

    def _schedule_retry(
        self, item: dict[str, Any], step: Step, context: StepContext, outcome: Outcome
    ) -> None:
        retries = _int(context.settings.get("retries"), 0)
        if outcome.retry_after is not None:
            # Honoured as given (not capped by PATCHBAY_RETRY_DELAY_MAX), bounded only against absurd values.
            delay = min(max(outcome.retry_after, 0.0), RETRY_AFTER_LIMIT)
        else:
            base = context.settings.get("retry_delay")
            delay = backoff_delay(attempt=step.attempts, base=float(base) if base not in (None, "") else None)
        at = timezone.now() + timedelta(seconds=delay)
        step.status = Step.Status.RETRYING
        step.next_attempt_at = at
        step.error = outcome.error
        self._write_step(step, ["status", "next_attempt_at", "error", "http_status"])
        emit_run_event(self.run.pk, step_event(step))
        self.log(
            step=step,
            level=LogLine.Level.WARNING,
            message=(
                f"Step '{step.shape_name}' attempt {step.attempts} of {retries + 1} failed: {outcome.error};"
                f" retrying in {delay:.1f} s"
            ),
        )
        self._push([{**item, "step": step.pk}])
        self._wait_for_retry(at)

    def _wait_for_retry(self, at: datetime) -> None:
        """Give the run back to the queue until `at`, keeping the checkpoint (the retry item is on top)."""
        with transaction.atomic(savepoint=False):
            release_for_retry(
                run=self.run,
                worker_id=self.worker_id,
                available_at=at,
                checkpoint=self.state,
                lines=self._take_lines(),
            )
            self._flush_items()

    def _fail_step(self, item: dict[str, Any], step: Step, outcome: Outcome) -> bool:
        step.status = Step.Status.FAILED
        step.finished_at = timezone.now()
        step.error = outcome.error
        self._write_step(step, ["status", "finished_at", "error", "http_status"])
        emit_run_event(self.run.pk, step_event(step))
        self.log(
            step=step,
            level=LogLine.Level.ERROR,
            message=f"Step '{step.shape_name}' failed: {outcome.error}",
        )
        scopes: list[dict[str, Any]] = list(item.get("scopes") or [])
        try_index = next((i for i in range(len(scopes) - 1, -1, -1) if scopes[i]["kind"] == "try"), None)
        if outcome.retry_run or try_index is None:
            self._finish(Run.Status.FAILED, error=outcome.error, retry_run=outcome.retry_run)
            return False
        try_scope = scopes[try_index]
        # A failure inside a branch stops that branch shape's later branches.
        for scope in scopes[try_index + 1 :]:
            if scope["kind"] == "branch":
                self._cancel_later_branches(scope)
        if try_scope["token"] in self.state["caught"]:
            self.log(
                step=step,
                level=LogLine.Level.INFO,
                message="This payload was already sent down catch; the failure is dropped",
            )
            return True
        self.state["caught"].append(try_scope["token"])
        try_shape = str(try_scope["shape"])
        try_settings = self.graph.settings(try_shape)
        if try_settings.get("partial_success", True):
            self.state["partial"] = True
        meta = {**try_scope.get("meta", {}), "error": outcome.error, "error_shape": str(item["shape"])}
        ref = {"file": try_scope["file"]} if try_scope.get("file") else {"payload": try_scope.get("payload")}
        catch = self.graph.connections(try_shape, label="catch")
        self._push([self._new_item(str(c["target"]), ref, meta, scopes[:try_index]) for c in catch])
        name = self.graph.shape(try_shape).get("name") or try_shape
        self.log(
            step=step,
            level=LogLine.Level.WARNING,
            message=(
                f"Failure caught by try/catch '{name}'"
                + ("; payload sent down catch" if catch else "; there is no catch path")
            ),
        )
        return True

    def _cancel_later_branches(self, scope: dict[str, Any]) -> None:
        def later(item: dict[str, Any]) -> bool:
            for other in item.get("scopes") or []:
                if other.get("kind") == "branch" and other.get("token") == scope["token"]:
                    return _int(other.get("order"), 0) > _int(scope.get("order"), 0)
            return False

        kept = [item for item in self.items if not later(item)]
        dropped = len(self.items) - len(kept)
        if dropped:
            self.deleted_rows.extend(item["_row"] for item in self.items if later(item) and "_row" in item)
            self.items[:] = kept
            self.log(
                step=None,
                level=LogLine.Level.WARNING,
                message=f"Later branches of '{scope['shape']}' skipped after a failure ({dropped} item(s))",
            )

    # --- the end ------------------------------------------------------------------------------------------
    def _finish(
        self, status: str, *, error: str = "", retry_run: bool = False, stop_if_requested: bool = False
    ) -> None:
        now = timezone.now()
        final_ref = self.state.get("final")
        final_payload = self._redacted(self._load(final_ref)) if final_ref else None
        started = self.run.started_at or now
        stats = self.state.get("stats", {})
        insights = {
            "duration_ms": round((now - started).total_seconds() * 1000, 3),
            "steps": int(stats.get("steps", 0)),
            "http_calls": int(stats.get("http_calls", 0)),
            "bytes_in": int(stats.get("bytes_in", 0)),
            "bytes_out": int(stats.get("bytes_out", 0)),
            "script_cpu_ms": round(float(stats.get("script_cpu_ms", 0)), 3),
        }
        rows_stored = bool(self.deleted_rows) or any("_row" in item for item in self.items)
        # The last step's payload rows, in the transaction that ends the run (the engine's, see _process).
        self._flush_payloads()
        finish_run(
            run=self.run,
            worker_id=self.worker_id,
            status=status,
            error=error,
            final_payload=final_payload,
            insights=insights,
            lines=self._take_lines(),
            retry_run=retry_run,
            delete_work_items=rows_stored,
            stop_if_requested=stop_if_requested,
            # A failed run keeps its last checkpoint (state and work items, the failed one included): a
            # retry from the failed step starts from it (runs/retries.py).
            checkpoint=self.state,
        )
        self.deleted_rows = []
        self.finished = True

    def fail_unexpectedly(self, exc: BaseException) -> None:
        """An engine bug: end the run as failed with a log line instead of leaving it stuck."""
        # What the failed step had not written yet is dropped; lines of a step that has no row lose it.
        self.payloads = []
        for line in self.lines:
            if line.step is not None and line.step.pk is None:
                line.step = None
        self.deleted_rows.append(-1)  # delete whatever work item rows the run has
        # Recording the failure must not need a stored payload: the error may be that it is gone, and a
        # run that cannot be failed stays running, re-queued at every lease expiry.
        self.state.pop("final", None)
        error = self.redactor.text(f"Internal engine error: {type(exc).__name__}: {exc}")
        self._finish(Run.Status.FAILED, error=error)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


__all__ = ["Emit", "LeaseLost", "Runner", "step_event"]
