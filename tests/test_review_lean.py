"""Lean, unambiguous review results: a 10-revision review under 8 kB by default (detail='summary'), the
target's current revision whatever the arguments, and a finding a later pending revision resolves marked
resolved there (resolved_by) instead of repeated as a problem."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import anyio
import pytest
from conftest import write_revision

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.review.tool import review_migration

HEAD = "b2e1d1ce0002"
SUMMARY_LIMIT = 8_000


def upgrade_head(project, url: str) -> None:
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=project, env=env, check=True)


def review(project, url: str, **kwargs):
    return anyio.run(lambda: review_migration(load_project(project, {"database_url": url}), **kwargs))


def ten_pending_revisions(project, heavy: bool = False) -> None:
    """Ten revisions, each adding a foreign key column (fk-missing-index); heavy: a NOT NULL column too."""
    down = HEAD
    for index in range(10):
        rev = f"d{index:03d}d{index:03d}"
        column = f'sa.Column("c{index}", sa.Integer(), sa.ForeignKey("rotations.id"), nullable=True)'
        up = f'op.add_column("persons", {column})'
        back = f'op.drop_column("persons", "c{index}")'
        if heavy:
            up += f'\nop.add_column("assignments", sa.Column("n{index}", sa.String(20), nullable=False))'
            back = f'op.drop_column("assignments", "n{index}")\n' + back
        write_revision(project, rev, down, upgrade=up, downgrade=back, message=f"step {index}")
        down = rev


def test_ten_revision_review_stays_under_8_kb_by_default(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    ten_pending_revisions(example_project)
    summary = review(example_project, sqlite_url)
    full = review(example_project, sqlite_url, detail="full")
    summary_size, full_size = len(summary.model_dump_json()), len(full.model_dump_json())
    print(f"10-revision review JSON: summary {summary_size} bytes, full {full_size} bytes")
    assert len(summary.revisions) == 10 and len(full.findings) == 10
    assert summary_size < SUMMARY_LIMIT < full_size
    # the first warning whole, the nine later ones of the rule as one finding naming each place
    first, later = summary.findings
    assert first.rule == later.rule == "fk-missing-index" and first.why and first.file and first.line
    assert later.message.startswith("9 more like the first:") and "d000d000_step_0.py:15" in later.fix
    assert all(f"persons.c{i} (d{i:03d}d{i:03d}:15)" in later.message for i in range(1, 10))
    assert all(f.fix for f in summary.findings) and later.why is None
    assert all(r.coverage for r in full.revisions) and not any(r.coverage for r in summary.revisions)
    # the revisions' own lists keep every finding whole (Python callers, apply_fixes)
    assert [len(r.findings) for r in summary.revisions] == [1] * 10


def test_summary_points_long_repeated_warning_fixes_at_the_first(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    ten_pending_revisions(example_project, heavy=True)
    summary = review(example_project, sqlite_url)
    full = review(example_project, sqlite_url, detail="full")
    print(
        f"heavy 10-revision review JSON: summary {len(summary.model_dump_json())}, full {len(full.model_dump_json())}"
    )
    required = [f for f in summary.findings if f.rule == "add-column-required"]
    assert len(required) == 2 and "UPDATE assignments SET n0" in (required[0].fix or "")
    assert "detail='full'" in (required[1].fix or "") and "assignments.n9 (d009d009:16)" in required[1].message
    assert len(summary.model_dump_json()) < len(full.model_dump_json()) / 2


def _mcp_review(project, url: str, **arguments) -> dict:
    from mcp import Client

    from alembic_mcp.server.app import build_server

    async def call():
        async with Client(build_server(str(project), {"database_url": url})) as client:
            result = await client.call_tool("review_migration", arguments)
            assert not result.is_error, result.content[0].text
            return result.structured_content

    return anyio.run(call)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_heavy_ten_revision_review_over_mcp_stays_under_8_kb(example_project, request, backend):
    """Four rules firing in each of ten revisions on PostgreSQL (two on SQLite): the structured result an
    agent receives stays under 8 kB by default, and detail='full' still lists every finding whole."""
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    upgrade_head(example_project, url)
    ten_pending_revisions(example_project, heavy=True)
    summary = _mcp_review(example_project, url)
    full = _mcp_review(example_project, url, detail="full")
    size = len(json.dumps(summary, separators=(",", ":")))
    print(f"heavy 10-revision review over MCP ({backend}): summary {size} bytes, full {len(json.dumps(full))}")
    assert size < SUMMARY_LIMIT
    rules = {f["rule"] for f in full["findings"]}
    assert {f["rule"] for f in summary["findings"]} == rules and len(full["findings"]) == 10 * len(rules)
    for rule in rules:  # each rule: its first finding whole, then one finding naming the nine other places
        first, later = [f for f in summary["findings"] if f["rule"] == rule]
        assert first["fix"] and first["file"] and first["line"] and later["fix"]
        assert later["message"].startswith("9 more like the first:") and first["file"] in later["fix"]
        assert all(f"(d{i:03d}d{i:03d}:" in later["message"] for i in range(1, 10))
    assert all("why" not in f for f in summary["findings"][len(rules) :])  # nothing sent empty
    assert [r["counts"] for r in summary["revisions"]] == [{"warning": len(rules)}] * 10


def test_bad_detail_is_refused(example_project, sqlite_url):
    with pytest.raises(InvalidArgument, match="detail must be 'summary'"):
        review(example_project, sqlite_url, detail="everything")


def test_database_current_is_the_targets_whatever_the_arguments(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    by_revision = review(example_project, sqlite_url, revision="a1f0c0de0001")
    by_path = review(example_project, sqlite_url, path="migrations/versions/a1f0c0de0001_initial_schema.py")
    assert by_revision.database.current == by_path.database.current == [HEAD]
    assert by_revision.database.status == "checked"


def index_created_later(project) -> None:
    write_revision(
        project,
        "e1e1",
        HEAD,
        upgrade='op.add_column("assignments", sa.Column("owner_id", sa.Integer(), nullable=True))\n'
        'op.create_foreign_key("fk_assignments_owner", "assignments", "persons", ["owner_id"], ["id"])',
        downgrade='op.drop_constraint("fk_assignments_owner", "assignments")\n'
        'op.drop_column("assignments", "owner_id")',
        message="owner",
    )
    write_revision(
        project,
        "e2e2",
        "e1e1",
        upgrade='op.create_index("ix_assignments_owner_id", "assignments", ["owner_id"])',
        downgrade='op.drop_index("ix_assignments_owner_id", table_name="assignments")',
        message="owner index",
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_finding_a_later_pending_revision_resolves_is_marked_resolved(example_project, request, backend):
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    upgrade_head(example_project, url)
    index_created_later(example_project)
    together = review(example_project, url)
    assert [r.revision for r in together.revisions] == ["e1e1", "e2e2"]
    resolved = [f for f in together.findings if f.rule == "fk-missing-index"]
    assert len(resolved) == 1 and resolved[0].severity == "info" and resolved[0].fix is None
    assert resolved[0].message.startswith("resolved_by e2e2:")
    alone = review(example_project, url, revision="e1e1")
    finding = next(f for f in alone.findings if f.rule == "fk-missing-index")
    assert finding.severity == "warning" and finding.fix
    counted_together, counted_alone = together.revisions[0].counts, alone.revisions[0].counts
    assert counted_together["warning"] == counted_alone["warning"] - 1
    assert counted_together["info"] == counted_alone["info"] + 1


def test_summaries_end_with_one_full_stop(example_project, sqlite_url):
    index_created_later(example_project)
    for kwargs in ({}, {"revision": "e1e1"}, {"revision": "base:heads"}):
        text = review(example_project, sqlite_url, **kwargs).summary
        assert text.endswith(".") and not text.endswith(".."), text
