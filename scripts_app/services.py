"""Writes of custom scripts: create, update, deploy, delete, and the test run of the editor's test button."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from config.revisions import check_revision
from scripts_app.models import Script, ScriptVersion, code_checksum
from scripts_app.results import ScriptError
from scripts_app.runner import check_code, run_code
from scripts_app.sandbox.policy import CompileProblem
from scripts_app.script_templates import template_for

Actor = AbstractBaseUser | AnonymousUser | None


class ScriptDeployError(Exception):
    """The draft does not compile under the sandbox policy; `problems` say where and why."""

    def __init__(self, problems: list[CompileProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {p.line}: {p.message}" for p in problems))


class ScriptVersionNotFound(Exception):
    pass


class ScriptNameTaken(Exception):
    pass


def _user_or_none(user: Actor) -> User | None:
    return user if isinstance(user, User) else None


def create_script(
    *,
    name: str,
    kind: str = Script.Kind.GENERAL,
    description: str = "",
    code: str | None = None,
    user: Actor = None,
) -> Script:
    """A new script. Without `code` (None or blank) it starts from the template of its kind."""
    author = _user_or_none(user)
    return Script.objects.create(
        name=name,
        kind=kind,
        description=description,
        code=code if code and code.strip() else template_for(kind),
        created_by=author,
        updated_by=author,
    )


def update_script(
    *,
    script: Script,
    user: Actor = None,
    name: str | None = None,
    description: str | None = None,
    kind: str | None = None,
    code: str | None = None,
    based_on: int | None = None,
) -> Script:
    """Change the draft and its settings; None leaves a field as it is. Deployed versions are untouched.
    A change based on an older revision than the stored one is refused (409, config/revisions.py); the
    script row is locked while it is checked and written."""
    changes = {"name": name, "description": description, "kind": kind, "code": code}
    fields = [field for field, value in changes.items() if value is not None]
    with transaction.atomic():
        current = Script.objects.select_for_update().values_list("revision", flat=True).get(pk=script.pk)
        check_revision(based_on=based_on, current=current, what=f"Script '{script.name}'")
        for field in fields:
            setattr(script, field, changes[field])
        script.updated_by = _user_or_none(user)
        script.revision = current + 1
        script.save(update_fields=[*fields, "revision", "updated_by", "updated_at"])
    return script


def delete_script(*, script: Script) -> None:
    """Delete a script and its versions. Raises django.db.models.ProtectedError while an endpoint uses it
    as its pre-request script."""
    script.delete()


def deploy_script(script: Script, user: Actor = None) -> ScriptVersion:
    """Compile the stored draft under the sandbox policy and make it the next version, numbered max + 1,
    with status deployed; the previously deployed version becomes inactive (still runnable when pinned).

    The compile check runs in a sandbox process under the script limits (never in this process), outside
    any transaction; the version gets exactly the code that was checked. Locks the script row while
    numbering. Raises ScriptDeployError with every problem (line, column, message) when the draft does not
    compile, lacks `def handle(data)` or cannot be compiled within the limits; ScriptError when the sandbox
    cannot take the check (no free slot in time).
    """
    code = Script.objects.filter(pk=script.pk).values_list("code", flat=True).get()
    for _ in range(3):
        problems = check_code(code)
        if problems:
            raise ScriptDeployError(problems)
        with transaction.atomic():
            locked = Script.objects.select_for_update().get(pk=script.pk)
            if locked.code != code:
                code = locked.code  # the draft changed while it was checked: check what is there now
                continue
            versions = ScriptVersion.objects.filter(script=locked)
            number = (versions.aggregate(highest=Max("number"))["highest"] or 0) + 1
            versions.filter(status=ScriptVersion.Status.DEPLOYED).update(status=ScriptVersion.Status.INACTIVE)
            return ScriptVersion.objects.create(
                script=locked,
                number=number,
                code=code,
                status=ScriptVersion.Status.DEPLOYED,
                deployed_at=timezone.now(),
                deployed_by=_user_or_none(user),
            )
    raise ScriptDeployError(
        [CompileProblem(1, 1, "The draft kept changing while it was checked; deploy again.")]
    )


def sample_data(script: Script, data: dict[str, Any] | None) -> dict[str, Any]:
    """The data of a test run: what the caller gave, with every key the contract promises filled in."""
    sample = dict(data or {})
    sample.setdefault("payload", None)
    for key in ("variables", "meta"):
        if not isinstance(sample.get(key), dict):
            sample[key] = {}
    flow = sample.get("flow")
    sample["flow"] = {
        "id": None,
        "name": "Test run",
        "run_id": None,
        **(flow if isinstance(flow, dict) else {}),
    }
    if not isinstance(sample["flow"].get("variables"), dict):
        sample["flow"]["variables"] = {}
    if script.kind == Script.Kind.RESPONSE:
        response = sample.get("response")
        given = response if isinstance(response, dict) else {}
        sample["response"] = {"status": 200, "headers": {}, "body": "", **given}
    return sample


def test_script(script: Script, data: dict[str, Any] | None, version: int | None = None) -> dict[str, Any]:
    """Run the draft (`version` None) or a version on sample data in the production sandbox.

    Returns `{"ok", "result", "logs", "error": {"type", "message", "line"} | None, "duration_ms"}`; whatever
    the script does is reported in it, never raised. Raises ScriptVersionNotFound for an unknown version.
    """
    sample = sample_data(script, data)
    code, number = script.code, None
    if version is not None:
        script_version = ScriptVersion.objects.filter(script=script, number=version).first()
        if script_version is None:
            raise ScriptVersionNotFound(f"Script '{script.name}' has no version {version}.")
        code, number = script_version.code, script_version.number
    try:
        # Not run_script: a test run is not an invocation (last_invoked_at tells what production uses).
        result = run_code(
            code=code,
            checksum=code_checksum(code),
            data=sample,
            script_name=script.name,
            version=number,
            key=f"test:{script.pk}",
        )
    except ScriptError as exc:
        return {
            "ok": False,
            "result": None,
            "logs": exc.logs,
            "error": exc.as_dict(),
            "duration_ms": round(exc.duration_ms, 3),
        }
    return {
        "ok": True,
        "result": result.data,
        "logs": result.logs,
        "error": None,
        "duration_ms": round(result.duration_ms, 3),
    }


# Not a pytest test, whatever its name says (it is the editor's "test" button).
test_script.__test__ = False  # type: ignore[attr-defined]


def restore_script_version(*, script: Script, number: int, user: Actor = None) -> Script:
    """Copy the code of version `number` into the draft (the version itself is unchanged; deploy the draft
    to make it current again). Raises ScriptVersionNotFound."""
    version = ScriptVersion.objects.filter(script=script, number=number).only("code").first()
    if version is None:
        raise ScriptVersionNotFound(f"Script '{script.name}' has no version {number}.")
    return update_script(script=script, user=user, code=version.code)


def copy_script(*, script: Script, name: str | None = None, user: Actor = None) -> Script:
    """A new script with `script`'s kind, description and draft code (no versions), named
    "<name> (copy)" unless `name` is given. Raises ScriptNameTaken when `name` exists."""
    from designer.copying import free_name

    def taken(candidate: str) -> bool:
        return Script.objects.filter(name=candidate).exists()

    if name is not None and taken(name):
        raise ScriptNameTaken(f"'{name}' already exists.")
    author = _user_or_none(user)
    return Script.objects.create(
        name=name if name is not None else free_name(script.name, taken),
        kind=script.kind,
        description=script.description,
        code=script.code,
        created_by=author,
        updated_by=author,
    )
