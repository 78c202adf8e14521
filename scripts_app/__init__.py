"""Custom scripts: drafts, numbered immutable versions, deploy, test runs and the sandboxed script runner.

`run_script`, `ScriptResult` and `ScriptError` are loaded lazily: importing this package must not import
Django models (the sandbox worker processes import `scripts_app.sandbox` without Django, and other apps may
import these names before the app registry is ready).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scripts_app.results import ScriptError, ScriptResult
    from scripts_app.runner import run_script

__all__ = ["ScriptError", "ScriptResult", "run_script"]


def __getattr__(name: str) -> Any:
    if name == "run_script":
        from scripts_app.runner import run_script

        return run_script
    if name in {"ScriptError", "ScriptResult"}:
        from scripts_app import results

        return getattr(results, name)
    raise AttributeError(f"module 'scripts_app' has no attribute {name!r}")
