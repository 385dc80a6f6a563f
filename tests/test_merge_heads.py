"""merge_heads: 2 and 3 heads, conflicting heads, dry run, concurrent calls, rehearsal on scratch databases."""

from __future__ import annotations

import anyio
import pytest
from conftest import write_revision

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.db.scratch import list_scratch
from alembic_mcp.tools.heads.check import check_heads
from alembic_mcp.tools.heads.merge import merge_heads


def add_col(table, col):
    return (
        f"op.add_column({table!r}, sa.Column({col!r}, sa.String(20), nullable=True))",
        f"op.drop_column({table!r}, {col!r})",
    )


def branch(project, rev, table, col, down="b2e1d1ce0002"):
    up, downgrade = add_col(table, col)
    with_batch_up = f"with op.batch_alter_table({table!r}) as b:\n    b.add_column(sa.Column({col!r}, sa.String(20)))"
    with_batch_down = f"with op.batch_alter_table({table!r}) as b:\n    b.drop_column({col!r})"
    write_revision(project, rev, down, with_batch_up, with_batch_down, message=f"add {col}")
    _ = up, downgrade


def versions(project):
    return sorted(p.name for p in (project / "migrations" / "versions").glob("*.py"))


def merge(project, **kwargs):
    overrides = kwargs.pop("overrides", {})
    return anyio.run(lambda: merge_heads(load_project(project, overrides), **kwargs))


def test_merge_two_heads_sqlite_rehearsed(example_project, sqlite_url):
    branch(example_project, "c0000001", "persons", "nickname")
    branch(example_project, "c0000002", "rotations", "site")
    result = merge(example_project, overrides={"database_url": sqlite_url})
    assert result.verdict == "proceed", result
    assert result.written and result.heads_after == [result.revision]
    assert result.files_to_commit == [result.file]
    assert sorted(result.merged_heads) == ["c0000001", "c0000002"]
    assert (example_project / result.file).is_file()
    assert "c0000001" in result.content and "c0000002" in result.content
    assert result.rehearsal.ran and result.rehearsal.ok and result.rehearsal.dropped
    assert result.rehearsal.current_after == [result.revision]
    check = anyio.run(check_heads, load_project(example_project))
    assert len(check.heads) == 1 and check.merge_points[0].revision == result.revision


def test_merge_three_heads_postgresql(example_project, pg_url):
    branch(example_project, "c0000001", "persons", "nickname")
    branch(example_project, "c0000002", "rotations", "site")
    branch(example_project, "c0000003", "audit_log", "source")
    result = merge(example_project, overrides={"database_url": pg_url})
    assert result.verdict == "proceed", result
    assert len(result.merged_heads) == 3 and len(result.heads_after) == 1
    assert result.rehearsal.ok and result.rehearsal.dropped
    assert result.rehearsal.scratch_database.startswith("postgresql+psycopg://")
    scratch_name = result.rehearsal.scratch_database.rsplit("/", 1)[-1]
    assert scratch_name.startswith("amcp_scratch_")
    assert scratch_name not in anyio.run(list_scratch, pg_url)


def test_conflicting_heads_escalate_and_write_nothing(example_project):
    branch(example_project, "c0000001", "persons", "a")
    branch(example_project, "c0000002", "persons", "b")
    before = versions(example_project)
    result = merge(example_project)
    assert result.verdict == "escalate" and result.escalations[0].rule == "conflicting-heads"
    assert not result.written and versions(example_project) == before


def test_conflicting_heads_acknowledged(example_project):
    branch(example_project, "c0000001", "persons", "a")
    branch(example_project, "c0000002", "persons", "b")
    result = merge(example_project, acknowledge_conflicts=True)
    assert result.verdict == "proceed" and result.written
    assert result.conflicts_acknowledged == ["persons"]
    assert any(f.rule == "conflicts-acknowledged" for f in result.findings)


def test_dry_run_writes_nothing(example_project):
    branch(example_project, "c0000001", "persons", "a")
    branch(example_project, "c0000002", "rotations", "b")
    before = versions(example_project)
    result = merge(example_project, dry_run=True, message="join the branches")
    assert result.dry_run and not result.written
    assert versions(example_project) == before
    assert result.file.startswith("migrations/versions/") and "join the branches" in result.content
    assert result.heads_after == [result.revision]
    assert result.files_to_commit == [result.file]  # what the real run writes


def test_merge_named_heads_and_bad_heads(example_project):
    branch(example_project, "c0000001", "persons", "a")
    branch(example_project, "c0000002", "rotations", "b")
    branch(example_project, "c0000003", "audit_log", "c")
    with pytest.raises(InvalidArgument, match="Unknown revision 'zzzz'"):
        merge(example_project, heads=["zzzz", "c0000001"])
    with pytest.raises(InvalidArgument, match="not a head"):
        merge(example_project, heads=["a1f0c0de0001", "c0000001"])
    with pytest.raises(InvalidArgument, match="at least two"):
        merge(example_project, heads=["c0000001"])
    with pytest.raises(InvalidArgument, match="matches several"):
        merge(example_project, heads=["c00000", "c0000001"])
    result = merge(example_project, heads=["c0000001", "c0000002"])
    assert sorted(result.merged_heads) == ["c0000001", "c0000002"]
    assert len(result.heads_after) == 2  # c0000003 is still a head
    assert any(f.rule == "multiple-heads" for f in result.findings)


@pytest.mark.parametrize("message", ["", "   ", "a/b", "a\\b", "line\nbreak", "x" * 201])
def test_bad_messages(example_project, message):
    with pytest.raises(InvalidArgument):
        merge(example_project, message=message)


def test_single_head_nothing_to_merge(example_project):
    result = merge(example_project)
    assert result.verdict == "proceed" and not result.written
    assert "Nothing to merge" in result.summary


def test_two_concurrent_merges_write_one_file(example_project):
    branch(example_project, "c0000001", "persons", "a")
    branch(example_project, "c0000002", "rotations", "b")
    project = load_project(example_project)
    results = []

    async def both():
        async def one():
            results.append(await merge_heads(project))

        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(one)

    anyio.run(both)
    written = [r for r in results if r.written]
    assert len(written) == 1
    assert len(versions(example_project)) == 5
    other = next(r for r in results if not r.written)
    assert "Nothing to merge" in other.summary


def test_failed_rehearsal_escalates_and_removes_file(example_project, sqlite_url):
    write_revision(
        example_project,
        "c0000001",
        "b2e1d1ce0002",
        "op.create_table('extra', sa.Column('id', sa.Integer, primary_key=True))",
        "op.drop_table('extra')",
        message="left",
    )
    write_revision(
        example_project,
        "c0000002",
        "b2e1d1ce0002",
        "op.create_table('extra2', sa.Column('id', sa.Integer, primary_key=True))\n"
        "op.execute('INSERT INTO no_such_table VALUES (1)')",
        "op.drop_table('extra2')",
        message="right",
    )
    before = versions(example_project)
    result = merge(example_project, overrides={"database_url": sqlite_url})
    assert result.verdict == "escalate"
    assert result.escalations[0].rule == "migration-failure-unclear"
    assert "no_such_table" in (result.rehearsal.error or "")
    assert versions(example_project) == before and not result.written
