"""The application check (the skill's step 5): the project's own command, such as ``python -m pytest -x tests/api``,
run at head on the scratch database after a clean rehearsal.

The command comes from the ``app_check_command`` setting, split with shlex into an argument list and run
without a shell, in the project directory, with a timeout. Its environment is built like a worker's: the
server's environment without the settings, ``DATABASE_URL`` or anything leading to the target, then every
``url_env_vars`` variable and ``DATABASE_URL`` set to the scratch database's URL.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Any

import anyio
from pydantic import BaseModel, Field

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.isolation import worker_environment
from alembic_mcp.tools.core.urls import redact
from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.worker.prestart import kill_group, starting_environment

OUTPUT_TAIL_CHARS = 2000


class AppCheckReport(BaseModel):
    """What the application check ran and how it ended."""

    command: str
    passed: bool
    exit_code: int | None = Field(default=None, description="None when it timed out or could not start.")
    timed_out: bool = False
    output_tail: str = Field(default="", description="The end of its output, passwords masked.")


def app_check_environment(project: Project, scratch_url: str) -> dict[str, str]:
    """The worker's environment, pointed at the scratch database (never at the target)."""
    url_vars = list(dict.fromkeys([*project.settings.url_env_vars, "DATABASE_URL"]))
    to_set, to_remove = worker_environment(project.database_url, scratch_url, url_vars)
    env = starting_environment(dict(os.environ))
    for name in to_remove:
        env.pop(name, None)
    env.update(to_set)
    return env


def _run(argv: list[str], cwd: str, env: dict[str, str], timeout_s: float) -> tuple[int | None, bool, str]:
    """(exit code, timed out, combined output) of one run; the whole process group dies on timeout."""
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return None, False, f"could not start {argv[0]!r}: {exc}"
    try:
        output, _ = process.communicate(timeout=timeout_s)
        return process.returncode, False, output.decode(errors="replace")
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        output, _ = process.communicate()
        return None, True, output.decode(errors="replace")
    except BaseException:
        kill_group(process.pid)
        process.wait()
        raise


async def run_app_check(project: Project, scratch_url: str) -> AppCheckReport | None:
    """Run ``app_check_command`` against the scratch database; None when the setting is not set."""
    command = project.settings.app_check_command
    if not command:
        return None
    argv = shlex.split(command)
    env = app_check_environment(project, scratch_url)
    timeout_s = project.settings.app_check_timeout_s
    code, timed_out, output = await anyio.to_thread.run_sync(_run, argv, str(project.root), env, timeout_s)
    tail = redact(output[-OUTPUT_TAIL_CHARS:], scratch_url, project.database_url)
    return AppCheckReport(
        command=command, passed=code == 0, exit_code=code, timed_out=timed_out, output_tail=tail.strip()
    )


def app_check_finding(report: AppCheckReport, timeout_s: float) -> Finding:
    if report.passed:
        return Finding(
            rule="app-check-passed",
            severity="info",
            message=f"The application check `{report.command}` passed on the scratch database at head.",
        )
    how = f"did not finish within {timeout_s:g} s" if report.timed_out else f"failed (exit code {report.exit_code})"
    return Finding(
        rule="app-check-failed",
        severity="error",
        message=f"The application check `{report.command}` {how} on the scratch database at head. "
        f"Output tail:\n{report.output_tail[-800:]}",
        why="The application does not work against the migrated schema: the migration or the code is not done.",
        fix="Read the output, fix the migration or the application code, then call test_roundtrip again.",
    )


def reached_head_cleanly(raw: dict[str, Any] | None, problem: str | None, ends_at_heads: bool) -> bool:
    """Whether the rehearsal left the scratch database at the heads with no failure on the way."""
    if raw is None or problem is not None or not ends_at_heads:
        return False
    blockers = ("failure", "failures", "env_error", "bootstrap_error", "stopped")
    return not any(raw.get(key) for key in blockers)
