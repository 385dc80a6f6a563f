"""Lean, unambiguous review results: a 10-revision review under 8 kB by default (detail='summary'), the
target's current revision whatever the arguments, and a finding a later pending revision resolves marked
resolved there (resolved_by) instead of repeated as a problem."""

from __future__ import annotations

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
    assert len(summary.revisions) == 10 and len(summary.findings) == len(full.findings) == 10
    assert summary_size < SUMMARY_LIMIT < full_size
    # a rule's why once; every warning keeps a fix; full keeps every statement's coverage
    assert sum(f.why is not None for f in summary.findings) == 1
    assert all(f.fix for f in summary.findings)
    assert all(r.coverage for r in full.revisions) and not any(r.coverage for r in summary.revisions)


def test_summary_points_long_repeated_warning_fixes_at_the_first(example_project, sqlite_url):
    upgrade_head(example_project, sqlite_url)
    ten_pending_revisions(example_project, heavy=True)
    summary = review(example_project, sqlite_url)
    full = review(example_project, sqlite_url, detail="full")
    print(
        f"heavy 10-revision review JSON: summary {len(summary.model_dump_json())}, full {len(full.model_dump_json())}"
    )
    required = [f for f in summary.findings if f.rule == "add-column-required"]
    assert len(required) == 10 and "UPDATE assignments SET n0" in (required[0].fix or "")
    assert all("detail='full'" in (f.fix or "") for f in required[1:] if f.severity != "error")
    assert len(summary.model_dump_json()) < len(full.model_dump_json()) / 2


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
