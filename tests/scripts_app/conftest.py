"""Small sandbox limits for the script tests, a fresh pool built with them, and script helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import override_settings

from scripts_app.models import Script, ScriptVersion
from scripts_app.sandbox.pool import get_pool, shutdown_pool
from scripts_app.services import create_script, deploy_script

TEST_LIMITS = {
    "PATCHBAY_SCRIPT_TIMEOUT": 2.0,
    "PATCHBAY_SCRIPT_CPU_SECONDS": 1,
    "PATCHBAY_SCRIPT_MEMORY_MB": 64,
    "PATCHBAY_SCRIPT_MAX_LOG_BYTES": 64 * 1024,
    "PATCHBAY_SCRIPT_MAX_RESULT_BYTES": 1024 * 1024,
    "PATCHBAY_SCRIPT_POOL_SIZE": 2,
    "PATCHBAY_SCRIPT_FLOW_CONCURRENCY": 1,
    "PATCHBAY_SCRIPT_QUEUE_TIMEOUT": 30.0,
}

TRIVIAL_CODE = 'def handle(data):\n    data["payload"] = "pong:" + str(data["payload"])\n    return data\n'


@pytest.fixture(scope="package", autouse=True)
def small_sandbox_limits() -> Iterator[None]:
    """Every test here runs against a pool started with the small limits above; the pool of the rest of
    the suite (default limits) is started again on its next use."""
    # The actor fixtures hash a password per test; the fast hasher keeps these API-heavy tests quick.
    fast_hashing = {"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]}
    with override_settings(**TEST_LIMITS, **fast_hashing):
        shutdown_pool()
        yield
        shutdown_pool()


@pytest.fixture
def make_version(db: None) -> Callable[..., ScriptVersion]:
    """Create a script with `code`, deploy it and return the version (deploy must succeed)."""
    counter = {"n": 0}

    def make(code: str, *, name: str | None = None, kind: str = Script.Kind.GENERAL) -> ScriptVersion:
        counter["n"] += 1
        script = create_script(name=name or f"Script {counter['n']}", kind=kind, code=code)
        return deploy_script(script)

    return make


def assert_pool_healthy(version: ScriptVersion) -> None:
    """A trivial script runs and every slot of the pool is free again."""
    from scripts_app import run_script

    result = run_script(version, {"payload": "ping", "variables": {}, "meta": {}, "flow": {}})
    assert result.payload == "pong:ping"
    stats = get_pool().stats()
    assert stats == {"configured": 2, "idle": 2, "busy": 0, "waiting": 0}
