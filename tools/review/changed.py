"""Git-aware review for pull requests: which revisions and model files changed since a git ref, and the
skill's commit rules over them.

Changed = ``git diff --name-status REF...HEAD`` (what the branch added since it left REF) plus the staged
and unstaged changes and the untracked files. git always runs with an argument list (no shell) and the
ref is validated first. The commit rules: a model file changed while autogenerate against a scratch
database at the heads still finds a difference (no migration covers it) is an error; a migration
changed while no model file did is a warning (fine for a data migration, a slip otherwise).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.errors import AlembicMcpError, InvalidArgument, ProjectError
from alembic_mcp.tools.core.isolation import worker_environment
from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.generate.drift import Drift, defines_tables, model_drift

MAX_REF_CHARS = 200
REF_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/~^@{}+-]*$")
MAX_OPERATIONS_LISTED = 8


@dataclass
class ChangedFiles:
    """Project files changed since the ref, by kind (absolute paths)."""

    ref: str
    migrations: list[Path] = field(default_factory=list)
    deleted_migrations: list[str] = field(default_factory=list)  # relative to the project
    models: list[Path] = field(default_factory=list)


def validate_ref(ref: object) -> str:
    """A git ref as text: a branch, tag, remote branch or commit; never an option or a range."""
    hint = "Pass a branch, tag or commit, e.g. changed_since='origin/main'."
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument(f"changed_since is empty. {hint}")
    ref = ref.strip()
    if len(ref) > MAX_REF_CHARS:
        raise InvalidArgument(f"changed_since is {len(ref)} characters; a git ref is at most {MAX_REF_CHARS}.")
    if ref.startswith("-"):
        raise InvalidArgument(f"changed_since {ref[:40]!r} starts with '-': it would be read as a git option. {hint}")
    if not REF_TEXT.match(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        raise InvalidArgument(
            f"changed_since {ref[:40]!r} is not a git ref: use letters, digits and . _ / ~ ^ @ - "
            f"(no spaces, no ranges with '..'). {hint}"
        )
    return ref


def git_environment(project: Project) -> dict[str, str]:
    """The server's environment without what leads to the target (a repository's config may run user
    code, e.g. an fsmonitor hook): the same variables the worker loses (core/isolation.py)."""
    _, to_remove = worker_environment(project.database_url, None, list(project.settings.url_env_vars))
    return {name: value for name, value in os.environ.items() if name not in to_remove}


async def _git(root: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    command = ["git", "-c", "core.fsmonitor=false", "-C", str(root), *args]
    try:
        done = await anyio.run_process(command, check=False, env=env)
    except OSError as exc:
        raise ProjectError(f"git cannot be run ({exc}); changed_since needs git on the PATH.") from None
    output = done.stdout.decode(errors="replace") if done.returncode == 0 else done.stderr.decode(errors="replace")
    return done.returncode, output


async def _repository_root(project: Project, env: dict[str, str]) -> Path:
    code, out = await _git(project.root, env, "rev-parse", "--show-toplevel")
    if code != 0:
        raise ProjectError(
            f"changed_since needs a git repository, and {project.root} is not in one. Review with revision=... "
            "instead, or run `git init` and commit."
        )
    return Path(out.strip()).resolve()


async def _check_ref(root: Path, env: dict[str, str], ref: str) -> None:
    code, _ = await _git(root, env, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if code != 0:
        raise InvalidArgument(
            f"changed_since {ref!r} is not a commit in this repository. Check the name (`git branch -a`), "
            "fetch it first (`git fetch origin main`), or pass a commit id."
        )


def _name_status(output: str) -> list[tuple[str, str]]:
    """``--name-status -z`` output as (status letter, path); a rename or copy is its new path, changed
    (a moved migration keeps its revision: nothing was deleted)."""
    parts = output.split("\0")
    entries: list[tuple[str, str]] = []
    index = 0
    while index < len(parts) - 1:
        status = parts[index]
        if status[:1] in ("R", "C"):
            entries.append(("M", parts[index + 2]))
            index += 3
        elif status:
            entries.append((status[:1], parts[index + 1]))
            index += 2
        else:
            index += 1
    return entries


async def _changed_paths(root: Path, env: dict[str, str], ref: str) -> dict[str, str]:
    """Repository-relative path -> last status (A, M, D) since ``ref``, working tree included."""
    changes: dict[str, str] = {}
    for args in (
        ("diff", "--name-status", "-z", "--no-ext-diff", f"{ref}...HEAD", "--"),
        ("diff", "--name-status", "-z", "--no-ext-diff", "HEAD", "--"),
    ):
        code, out = await _git(root, env, *args)
        if code != 0:
            raise ProjectError(f"git diff failed: {out.strip()[:300]}")
        for status, path in _name_status(out):
            changes[path] = "A" if status == "M" and changes.get(path) == "A" else status
    code, out = await _git(root, env, "ls-files", "--others", "--exclude-standard", "-z")
    if code == 0:
        changes.update({path: "A" for path in out.split("\0") if path})
    return changes


async def changed_files(project: Project, ref: str) -> ChangedFiles:
    """The migrations and model files of the project changed since ``ref``."""
    env = git_environment(project)
    root = await _repository_root(project, env)
    await _check_ref(root, env, ref)
    versions = [Path(v).resolve() for v in project.version_locations]
    skip = [project.script_location.resolve(), *versions]
    changed = ChangedFiles(ref)
    for name, status in sorted((await _changed_paths(root, env, ref)).items()):
        path = (root / name).resolve()
        if path.suffix != ".py" or not path.is_relative_to(project.root):
            continue
        if any(path.is_relative_to(v) for v in versions):
            if status == "D":
                changed.deleted_migrations.append(project.relative(path))
            elif path.is_file():
                changed.migrations.append(path)
        elif not any(path.is_relative_to(s) for s in skip) and await _is_model_file(root, env, ref, name, path, status):
            changed.models.append(path)
    return changed


async def _is_model_file(root: Path, env: dict[str, str], ref: str, name: str, path: Path, status: str) -> bool:
    """A file declaring tables now, or (deleted) at ``ref``."""
    if status != "D":
        return path.is_file() and await anyio.to_thread.run_sync(defines_tables, path)
    code, out = await _git(root, env, "show", f"{ref}:{name}")
    return code == 0 and ("__tablename__" in out or "Table(" in out)


# ------------------------------------------------------------------------------------------ commit rules


async def commit_rule_findings(project: Project, changed: ChangedFiles) -> list[Finding]:
    """The skill's commit rules over what changed since the ref."""
    findings: list[Finding] = []
    models = ", ".join(project.relative(p) for p in changed.models)
    if changed.models:
        findings.extend(await _drift_findings(project, changed, models))
    if changed.migrations and not changed.models:
        findings.extend(await _migrations_only_findings(project, changed))
    for rel in changed.deleted_migrations:
        findings.append(
            Finding(
                rule="migration-deleted",
                severity="warning",
                message=f"{rel} was deleted since {changed.ref}.",
                file=rel,
                why="A database that already applied it cannot find its revision any more.",
                fix="Keep applied migrations; undo a change with a new revision.",
            )
        )
    return findings


async def _drift_findings(project: Project, changed: ChangedFiles, models: str) -> list[Finding]:
    try:
        drift = await model_drift(project)
    except AlembicMcpError as exc:
        drift = Drift(problem=str(exc))
    if drift.problem is not None:
        return [
            Finding(
                rule="model-change-unchecked",
                severity="warning",
                message=f"Model files changed since {changed.ref} ({models}), but the models could not be "
                f"compared with the migrations: {drift.problem[:300]}",
                file=project.relative(changed.models[0]),
                why="Without the comparison nobody knows whether a migration covers the model change.",
                fix="Fix the cause above (a scratch database needs database_url or scratch_url), then review again.",
            )
        ]
    if not drift.operations:
        return []
    return [_model_without_migration(project, changed, models, drift)]


def _describe(operation: dict) -> str:
    where = ".".join(str(part) for part in (operation.get("table"), operation.get("column")) if part)
    return f"{operation.get('op')} {where}".strip()


def _model_without_migration(project: Project, changed: ChangedFiles, models: str, drift: Drift) -> Finding:
    listed = [_describe(op) for op in drift.operations[:MAX_OPERATIONS_LISTED]]
    more = len(drift.operations) - len(listed)
    return Finding(
        rule="model-change-without-migration",
        severity="error",
        message=f"Model files changed since {changed.ref} ({models}) and no migration covers it: autogenerate "
        f"against a {drift.compared_with} still finds {', '.join(listed)}{f' and {more} more' if more else ''}.",
        file=project.relative(changed.models[0]),
        why="The skill's commit rule: a model change ships with the migration that makes the schema match; "
        "without it the deployed code expects columns or tables the database does not have.",
        fix="Call generate_migration with a message describing the model change, review it, and commit both; "
        "or revert the model edit.",
    )


async def _migrations_only_findings(project: Project, changed: ChangedFiles) -> list[Finding]:
    """Migrations changed and no model file: fine when the models still match the migrated schema (a data
    migration, a merge revision, an index moved to its own revision); a finding naming what differs when
    they do not, or saying the comparison could not run."""
    try:
        drift = await model_drift(project)
    except AlembicMcpError as exc:
        drift = Drift(problem=str(exc))
    if drift.problem is None and not drift.operations:
        return []
    return [_migration_without_model(project, changed, drift)]


def _migration_without_model(project: Project, changed: ChangedFiles, drift: Drift) -> Finding:
    files = ", ".join(project.relative(p) for p in changed.migrations)
    if drift.problem is not None:
        found = f" The models could not be compared with the migrations: {drift.problem[:200]}"
    else:
        listed = [_describe(op) for op in drift.operations[:MAX_OPERATIONS_LISTED]]
        found = f" The models do not match the migrated schema: autogenerate would still {', '.join(listed)}."
    return Finding(
        rule="migration-without-model-change",
        severity="warning",
        message=f"Migrations changed since {changed.ref} ({files}) but no model file did.{found}",
        file=project.relative(changed.migrations[0]),
        why="The skill's commit rule: a schema migration is committed with its model change; without it the "
        "models are behind the database. A data migration or a merge revision needs none (then the models "
        "and the migrated schema match, and there is no finding).",
        fix="Change the models to match the migration and commit both (generate_migration lists the files), "
        "or change the migration to match the models.",
    )
