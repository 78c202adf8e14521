"""What a shape sees while it executes one step: the run, its shape settings, templates, scripts, the log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

from connectors.redaction import Redactor
from runs.engine.outcome import StepFailed, WorkPayload
from runs.models import LogLine, Run, Step
from runs.rows import Part, select_joined, set_related
from runs.templating import render_template, template_context, uses_payload
from scripts_app.models import Script, ScriptVersion

# The script's draft code is not needed to run a version (the version has its own code).
SCRIPT_PARTS = (Part(ScriptVersion, "v"), Part(Script, "s", defer=("code",)))

if TYPE_CHECKING:
    from runs.engine.graph import Graph
    from runs.engine.runner import Runner


def resolve_script_version(*, script_id: int, version: int | None) -> ScriptVersion | None:
    """`scripts_app.selectors.resolve_script_version` (the pinned version number, else the deployed one;
    never the draft), with its script, read through a statement built once (runs.rows) instead of a
    compiled QuerySet on every script step. Not cached: a deploy changes which version is deployed."""
    quote = connection.ops.quote_name
    where = [f"v.{quote('script_id')} = %s", f"v.{quote('status')} <> %s"]
    params: list[Any] = [script_id, ScriptVersion.Status.DRAFT]
    if version is not None:
        where.append(f"v.{quote('number')} = %s")
        params.append(version)
    else:
        where.append(f"v.{quote('status')} = %s")
        params.append(ScriptVersion.Status.DEPLOYED)
    found = select_joined(
        SCRIPT_PARTS,
        f"FROM {quote(ScriptVersion._meta.db_table)} v INNER JOIN {quote(Script._meta.db_table)} s"
        f" ON (s.{quote('id')} = v.{quote('script_id')}) WHERE {' AND '.join(where)}"
        f" ORDER BY v.{quote('number')} DESC LIMIT 1",
        params,
    )
    if not found:
        return None
    script_version, script = found[0]
    set_related(script_version, "script", script)
    return script_version  # type: ignore[return-value]


class StepContext:
    """One step's view of the run. Shapes use it instead of touching the run row or the checkpoint."""

    def __init__(self, *, runner: Runner, step: Step, shape: dict[str, Any]) -> None:
        self.runner = runner
        self.step = step
        self.shape = shape
        self.shape_id = str(shape["id"])
        self.shape_name = str(shape.get("name") or shape["id"])
        self.settings: dict[str, Any] = dict(shape.get("settings") or {})

    # --- the run -----------------------------------------------------------------------------------------
    @property
    def run(self) -> Run:
        return self.runner.run

    @property
    def graph(self) -> Graph:
        return self.runner.graph

    @property
    def attempt(self) -> int:
        """This step's attempt number (1 for the first)."""
        return self.step.attempts

    @property
    def flow_variables(self) -> dict[str, Any]:
        """Run-scoped flow variables: changes last for the rest of this run (and survive a resume)."""
        return self.runner.state["flow_variables"]

    def flow_info(self) -> dict[str, Any]:
        flow = self.run.flow
        return {"id": flow.pk, "name": flow.name, "run_id": self.run.pk, "variables": self.flow_variables}

    def add_stat(self, name: str, amount: float) -> None:
        stats = self.runner.state["stats"]
        stats[name] = stats.get(name, 0) + amount

    def log(self, level: str, message: str, data: Any = None) -> None:
        """Add a line to the run log, stored with the step's checkpoint (runs.engine.runner)."""
        self.runner.log(step=self.step, level=level, message=message, data=data)

    def remember_secrets(self, redactor: Redactor) -> None:
        """Secrets a shape sends: whatever the run stores or shows from now on has them redacted."""
        self.runner.redactor.extend(redactor)

    def extend_lease(self, seconds: float) -> None:
        """Make the lease last at least `seconds` more (plus the usual lease) before a long blocking call."""
        self.runner.extend_lease(seconds)

    # --- templates ---------------------------------------------------------------------------------------
    def template_context(self, work: WorkPayload, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return template_context(
            payload=work.payload, meta=work.meta, variables=variables, flow=self.flow_info()
        )

    def render(self, source: Any, work: WorkPayload, variables: dict[str, Any] | None = None) -> str:
        """Render a template setting; raises `TemplateError` naming an undefined placeholder."""
        if source is None:
            return ""
        text = str(source)
        if "[[" not in text and "[%" not in text:
            return text
        context = template_context(
            payload=work.payload,
            meta=work.meta,
            variables=variables,
            flow=self.flow_info(),
            parse=uses_payload(text),
        )
        return render_template(text, context)

    # --- scripts -----------------------------------------------------------------------------------------
    def script_data(self, work: WorkPayload, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` dict of DESIGN section 4 for `work`."""
        return {
            "payload": work.payload,
            "variables": {str(k): str(v) for k, v in (variables or {}).items()},
            "meta": {str(k): str(v) for k, v in work.meta.items()},
            "flow": {**self.flow_info(), "variables": dict(self.flow_variables)},
        }

    def run_script(self, *, script_id: Any, version: Any, data: dict[str, Any]) -> Any:
        """Run a custom script version (pinned `version` or the deployed one) on `data`.

        Writes the script's log output to the run log, adds its CPU time to the run's insights and applies
        its changes to the flow variables. Raises `StepFailed` when there is no runnable version or the
        script fails (the message names the script, version and line).
        """
        from scripts_app import ScriptError, run_script

        try:
            script_version = resolve_script_version(
                script_id=int(script_id), version=int(version) if version not in (None, "") else None
            )
        except (TypeError, ValueError) as exc:
            raise StepFailed(f"Invalid script reference {script_id!r} / version {version!r}.") from exc
        if script_version is None:
            which = f"version {version}" if version not in (None, "") else "a deployed version"
            raise StepFailed(f"Script {script_id} has no {which}.")
        self.extend_lease(float(settings.PATCHBAY_SCRIPT_TIMEOUT))
        label = f"{script_version.script.name} v{script_version.number}"
        try:
            result = run_script(script_version, data)
        except ScriptError as exc:
            for line in exc.logs:
                self.log(LogLine.Level.INFO, f"[{label}] {line}")
            raise StepFailed(str(exc)) from exc
        self.add_stat("script_cpu_ms", float(result.cpu_ms or 0))
        for line in result.logs:
            self.log(LogLine.Level.INFO, f"[{label}] {line}")
        # Only a returned data["flow"]["variables"] changes the run's flow variables (a script that drops
        # "flow" from its result leaves them alone).
        flow = result.data.get("flow") if isinstance(result.data, dict) else None
        returned = flow.get("variables") if isinstance(flow, dict) else None
        if isinstance(returned, dict) and returned != self.flow_variables:
            self.flow_variables.clear()
            self.flow_variables.update(returned)
        return result
