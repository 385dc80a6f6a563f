"""review_migration(changed_since=REF): the revisions changed since a git ref and the skill's commit rules,
on real temporary git repositories (git init, commits) with SQLite and PostgreSQL scratch databases."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest
from conftest import write_revision

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument, ProjectError
from alembic_mcp.tools.review.tool import review_migration

HEAD = "b2e1d1ce0002"
NICKNAME = "    pgy_level = Column(Integer, nullable=True)\n"
NICKNAME_ADDED = NICKNAME + "    nickname = Column(String(40), nullable=True)\n"


def git(project, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@pytest.fixture
def repo(example_project):
    """The example project as a git repository: everything committed on main, then a branch 'feature'."""
    git(example_project, "init", "-q", "-b", "main")
    git(example_project, "add", "-A")
    git(example_project, "commit", "-q", "-m", "initial")
    git(example_project, "checkout", "-q", "-b", "feature")
    return example_project


def add_nickname_to_models(project) -> None:
    models = project / "residency" / "models.py"
    models.write_text(models.read_text().replace(NICKNAME, NICKNAME_ADDED))


def add_nickname_migration(project):
    return write_revision(
        project,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.add_column("persons", sa.Column("nickname", sa.String(40), nullable=True))',
        downgrade='op.drop_column("persons", "nickname")',
        message="add nickname",
    )


def review(project, url: str, **kwargs):
    return anyio.run(lambda: review_migration(load_project(project, {"database_url": url}), **kwargs))


def rules(result) -> dict[str, object]:
    return {f.rule: f for f in result.findings}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_model_change_without_migration_is_an_error(repo, request, backend):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    add_nickname_to_models(repo)
    git(repo, "commit", "-qam", "nickname in the models only")
    result = review(repo, url, changed_since="main")
    finding = rules(result)["model-change-without-migration"]
    assert finding.severity == "error" and result.verdict == "fix"
    assert "add_column persons.nickname" in finding.message and finding.file == "residency/models.py"
    assert result.revisions == [] and "changed since main" in result.selection
    assert "fix model-change-without-migration" in result.summary and "up to date" not in result.summary


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_model_change_with_its_migration_passes_the_commit_rules(repo, request, backend):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    add_nickname_to_models(repo)
    add_nickname_migration(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "nickname with its migration")
    result = review(repo, url, changed_since="main")
    assert [r.revision for r in result.revisions] == ["c3c3c3c30003"]
    assert not {"model-change-without-migration", "migration-without-model-change"} & set(rules(result))
    assert result.verdict == "proceed", result.findings


def test_working_tree_changes_count_and_a_lone_migration_warns(repo, sqlite_url):
    add_nickname_migration(repo)  # untracked, never committed
    result = review(repo, sqlite_url, changed_since="main")
    assert [r.revision for r in result.revisions] == ["c3c3c3c30003"]
    finding = rules(result)["migration-without-model-change"]
    assert finding.severity == "warning" and "c3c3c3c30003_add_nickname.py" in finding.message
    assert "autogenerate would still drop_column persons.nickname" in finding.message
    # staged but not committed: still changed
    git(repo, "add", "-A")
    assert [r.revision for r in review(repo, sqlite_url, changed_since="HEAD").revisions] == ["c3c3c3c30003"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_migration_the_models_already_match_needs_no_model_change(repo, request, backend):
    """Agent run 5: a merge revision, or an index moved to a revision of its own, changes no model and the
    models still match the migrated schema: no warning (a data migration is the same case)."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    write_revision(
        repo,
        "c3c3c3c30003",
        HEAD,
        upgrade='op.execute("UPDATE persons SET pgy_level = 1")',
        downgrade="pass",
        message="data only",
    )
    result = review(repo, url, changed_since="main")
    assert "migration-without-model-change" not in rules(result), result.findings


def test_an_unchanged_branch_reviews_nothing(repo, sqlite_url):
    (repo / "README.txt").write_text("docs only\n")
    result = review(repo, sqlite_url, changed_since="main")
    assert result.revisions == [] and result.findings == [] and result.verdict == "proceed"
    assert result.summary == "No migration changed (revisions changed since main (0)); 0 warning(s)."


def test_deleted_model_module_still_counts_as_a_model_change(repo, sqlite_url):
    add_nickname_migration(repo)
    models = repo / "residency" / "models.py"
    git(repo, "rm", "-q", str(models))
    result = review(repo, sqlite_url, changed_since="main")
    assert "migration-without-model-change" not in rules(result)  # the model file change is the deletion


def test_not_a_git_repository_and_unknown_refs_are_clear_errors(repo, sqlite_url):
    with pytest.raises(InvalidArgument, match="not a commit in this repository"):
        review(repo, sqlite_url, changed_since="origin/nope")
    (repo / ".git").rename(repo / "not-git")
    with pytest.raises(ProjectError, match="needs a git repository"):
        review(repo, sqlite_url, changed_since="main")


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("--output=/tmp/x", "starts with '-'"),
        ("-", "starts with '-'"),
        ("main..feature", "not a git ref"),
        ("main branch", "not a git ref"),
        ("main;rm -rf", "not a git ref"),
        ("a" * 201, "at most 200"),
        ("", "empty"),
        ("refs/heads/x.lock", "not a git ref"),
    ],
)
def test_bad_refs_are_refused_before_git_runs(repo, sqlite_url, ref, fragment):
    with pytest.raises(InvalidArgument, match=fragment):
        review(repo, sqlite_url, changed_since=ref)


def test_changed_since_is_alone(repo, sqlite_url):
    with pytest.raises(InvalidArgument, match="changed_since alone"):
        review(repo, sqlite_url, changed_since="main", revision="head")


def test_cli_changed_since(repo, sqlite_url):
    add_nickname_to_models(repo)
    command = [sys.executable, "-m", "alembic_mcp.server.cli", "review-migration", "--project", str(repo)]
    command += ["--database-url", sqlite_url, "--changed-since", "main", "--json"]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr  # fix
    data = json.loads(proc.stdout)
    assert "model-change-without-migration" in {f["rule"] for f in data["findings"]}
    proc = subprocess.run([*command[:-3], "--changed-since", "-x", "--json"], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


@pytest.mark.anyio
async def test_mcp_changed_since_and_detail_arguments(repo, sqlite_url):
    from mcp import Client

    from alembic_mcp.server.app import build_server

    async with Client(build_server(str(repo), {"database_url": sqlite_url})) as client:
        tool = {t.name: t for t in (await client.list_tools()).tools}["review_migration"]
        props = tool.input_schema["properties"]
        assert props["changed_since"]["anyOf"][0]["maxLength"] == 200 and props["detail"]["description"]
        ok = await client.call_tool("review_migration", {"changed_since": "main", "detail": "full"})
        assert not ok.is_error and "changed since main" in ok.structured_content["selection"]
        bad = [
            ({"changed_since": "--upload-pack=x"}, "starts with '-'"),
            ({"changed_since": 5}, "changed_since"),
            ({"changed_since": "x" * 201}, "changed_since"),
            ({"changed_since": "nope"}, "not a commit"),
            ({"changed_since": "main", "path": "migrations/versions/x.py"}, "changed_since alone"),
            ({"detail": "everything"}, "detail"),
        ]
        for args, fragment in bad:
            r = await client.call_tool("review_migration", args)
            assert r.is_error, args
            assert fragment in r.content[0].text, (args, r.content[0].text)
            assert "Traceback" not in r.content[0].text


def test_project_in_a_subfolder_and_a_renamed_migration(example_project, sqlite_url):
    outer = example_project.parent  # the repository holds the project in residency/
    git(outer, "init", "-q", "-b", "main")
    git(outer, "add", "residency")
    git(outer, "commit", "-q", "-m", "initial")
    versions = example_project / "migrations" / "versions"
    git(outer, "mv", str(versions / "b2e1d1ce0002_audit_log_and_acgme_compliance.py"), str(versions / "b2_moved.py"))
    git(outer, "commit", "-q", "-m", "rename a migration file")
    result = review(example_project, sqlite_url, changed_since="main~1")
    assert [r.revision for r in result.revisions] == [HEAD]
    assert result.revisions[0].file == "migrations/versions/b2_moved.py"
    assert "migration-deleted" not in rules(result)  # moved, not deleted: the revision is still there
    (versions / "b2_moved.py").unlink()
    deleted = review(example_project, sqlite_url, changed_since="main")
    assert deleted.revisions == [] and rules(deleted)["migration-deleted"].severity == "warning"


def test_git_runs_without_the_target_url_and_without_the_repositorys_fsmonitor(repo, sqlite_url, monkeypatch):
    from alembic_mcp.tools.review.changed import git_environment

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ALEMBIC_MCP_DATABASE_URL", sqlite_url)
    env = git_environment(load_project(repo, {"database_url": sqlite_url}))
    assert "DATABASE_URL" not in env and "ALEMBIC_MCP_DATABASE_URL" not in env and env.get("PATH")
    marker = repo.parent / "fsmonitor-ran"
    hook = repo.parent / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\nenv > {marker}\nexit 1\n")
    hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", str(hook))
    git(repo, "diff", "--name-status", "HEAD")  # plain git runs the repository's hook ...
    assert marker.exists()
    marker.unlink()
    review(repo, sqlite_url, changed_since="main")  # ... the review's git does not
    assert not marker.exists()
