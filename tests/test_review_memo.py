"""What a review derives once instead of once per rule or per revision, and when it derives it again.
Counted, never timed.

- ``history/nodes.walk``: a subtree's nodes listed once while the parse lives (a changed file is a new
  parse, listed anew);
- ``effects.migration_module``: the file read as a module once per parse;
- one scan and one list of statements per linted file (the dynamic family and downgrade's share them);
- ``History.ordered_below`` of a revision on a line extends its parent's list; the same as sorting
  every ancestor, on a line and after a merge; ``pipeline._earlier`` extends the parent's list too;
- the schema replay's clones share tables until one changes them;
- the project modules a migration imports are read once per review, again in the next one.
"""

from __future__ import annotations

import ast
import os
import time

from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.progress import no_progress
from alembic_mcp.tools.history import cache, nodes
from alembic_mcp.tools.history.files import history_from_files
from alembic_mcp.tools.history.graph import History, RevisionNode
from alembic_mcp.tools.history.migration_ast import parse_source
from alembic_mcp.tools.review import pipeline
from alembic_mcp.tools.review.pipeline import Review, Target
from alembic_mcp.tools.review.result import DatabaseContext
from alembic_mcp.tools.review.rules import dynamic, effects, imports
from alembic_mcp.tools.review.schema_model import SchemaModel
from tests.conftest import write_revision


def _rewrite(path, text: str) -> None:
    """A new content with a new mtime (a same-second edit is caught by the hash anyway)."""
    path.write_text(text)
    later = time.time() + 5
    os.utime(path, (later, later))


def test_walk_lists_a_tree_once_and_a_changed_file_anew(empty_project):
    path = write_revision(empty_project, "r0", None, 'op.add_column("persons", sa.Column("x", sa.Integer()))')
    cache.clear()
    tree = cache.parsed(path).tree
    assert list(nodes.walk(tree)) == list(ast.walk(tree))  # ast.walk's nodes, in its order
    listed, reused = nodes.stats["listed"], nodes.stats["reused"]
    for _ in range(3):
        nodes.walk(tree)
    assert (nodes.stats["listed"], nodes.stats["reused"]) == (listed, reused + 3)
    assert cache.parsed(path).tree is tree  # unchanged file: the same parse, the same listing
    nodes.walk(cache.parsed(path).tree)
    assert nodes.stats["listed"] == listed

    _rewrite(path, path.read_text().replace('"x"', '"y"'))
    changed = cache.parsed(path).tree  # parsed anew, and listed anew (parse_source's own walks)
    assert changed is not tree and nodes.stats["listed"] > listed
    listed = nodes.stats["listed"]
    names = [n.value for n in nodes.walk(changed) if isinstance(n, ast.Constant)]
    assert nodes.stats["listed"] == listed and "y" in names and "x" not in names
    cache.clear()


def test_the_migration_module_is_read_once_per_parse(empty_project):
    path = write_revision(empty_project, "r0", None, "op.execute(SQL)", extra_header='SQL = "DELETE FROM persons"')
    cache.clear()
    migration = cache.parsed(path)
    built = effects.module_stats["built"]
    first = effects.migration_module(migration)
    assert effects.migration_module(cache.parsed(path)) is first
    assert effects.module_stats["built"] == built + 1 and first.assigned["SQL"].value == "DELETE FROM persons"

    _rewrite(path, path.read_text().replace("DELETE FROM persons", "SELECT 1"))
    again = effects.migration_module(cache.parsed(path))
    assert again is not first and again.assigned["SQL"].value == "SELECT 1"
    assert effects.module_stats["built"] == built + 2
    cache.clear()


def _review(project_dir, revision_ids: list[str]) -> Review:
    project = load_project(project_dir, {})
    history, parsed = history_from_files(project)
    targets = [
        Target(r, history.nodes[r].path, list(history.nodes[r].down_revisions), "")
        for r in history.ordered(set(revision_ids))
    ]
    db = DatabaseContext(status="not_configured", url=None, backend=None, detail="")
    return Review(project, targets, history, parsed, db, [], False, no_progress)


def test_one_scan_per_linted_file(empty_project, monkeypatch):
    for i in range(3):
        write_revision(
            empty_project,
            f"r{i}",
            f"r{i - 1}" if i else None,
            f'op.add_column("persons", sa.Column("c{i}", sa.Integer()))',
            "",  # an empty downgrade(): downgrade's checks ask for the statements too
        )
    scans: list[object] = []
    real = dynamic._Scan

    class CountedScan(real):  # type: ignore[misc, valid-type]
        def __init__(self, state) -> None:
            scans.append(state)
            super().__init__(state)

    monkeypatch.setattr(dynamic, "_Scan", CountedScan)
    review = _review(empty_project, ["r0", "r1", "r2"])
    pipeline._lint(review)
    assert len(scans) == 3  # one per file, whatever the number of rules that read it
    assert all(f.lint.statements for f in review.files.values())
    assert {h.finding.rule for f in review.files.values() for h in f.hits} >= {"empty-downgrade"}


def _graph(edges: dict[str, tuple[str, ...]]) -> History:
    nodes_ = {rev: RevisionNode(rev, list(downs), [], [], "", f"{rev}.py") for rev, downs in edges.items()}
    for rev, downs in edges.items():
        for down in downs:
            if down in nodes_:
                nodes_[down].children.append(rev)
    heads = [rev for rev, node in nodes_.items() if not node.children]
    return History(nodes_, [], heads, [rev for rev, downs in edges.items() if not downs])


def test_ordered_below_on_a_line_and_after_a_merge_is_what_sorting_every_ancestor_gives():
    edges = {"m0": (), "k1": ("m0",), "a2": ("k1",), "z3": ("a2",)}  # a line
    edges |= {"b4": ("z3",), "c5": ("z3",), "d6": ("b4",), "e7": ("c5", "d6")}  # a branch and its merge
    edges |= {"f8": ("e7",), "a9": ("f8",)}  # a line again, above the merge
    history = _graph(edges)
    expected = {rev: history.ordered(history.ancestors(rev) - {rev}) for rev in edges}
    for rev in reversed(list(edges)):  # the head first: the line below it is filled in on the way
        assert history.ordered_below(rev) == expected[rev], rev
    assert history.line_parent("z3") == "a2" and history.line_parent("m0") is None
    assert history.line_parent("e7") is None and history.line_parent("a9") is None  # below them: a merge


def test_earlier_extends_the_parent_list_on_a_line(empty_project):
    for i in range(5):
        write_revision(empty_project, f"r{i}", f"r{i - 1}" if i else None)
    project = load_project(empty_project, {})
    history, parsed = history_from_files(project)
    known: dict = {}
    for i in range(5):
        rev = f"r{i}"
        got = pipeline._earlier(history, parsed, rev, [], known)
        assert got == [parsed[r] for r in history.ordered_below(rev)]
        assert known[rev] is got


def _rev(revision: str, down: str | None, upgrade: str, downgrade: str = "pass"):
    return parse_source(
        f"import sqlalchemy as sa\nfrom alembic import op\nrevision = {revision!r}\ndown_revision = {down!r}\n\n\n"
        f"def upgrade():\n    {upgrade}\n\n\ndef downgrade():\n    {downgrade}\n"
    )


def test_schema_clones_share_tables_until_one_changes_them():
    base = _rev("s1", None, 'op.create_table("t", sa.Column("id", sa.Integer()))')
    more = _rev("s2", "s1", 'op.create_index("ix_t_id", "t", ["id"])', 'op.drop_index("ix_t_id", table_name="t")')
    model = SchemaModel.replay([base], more, "postgresql")
    copy = model.clone()
    assert copy.tables["t"] is model.tables["t"]  # shared until changed
    assert copy.check(more) == []
    assert "ix_t_id" not in model.tables["t"].indexes and copy.tables["t"] is not model.tables["t"]
    again = SchemaModel.replay([base], more, "postgresql")  # the remembered replay is untouched
    assert again.tables["t"].indexes == set() and again.check(more) == []
    wrong = _rev("s3", "s1", "pass", 'op.drop_index("ix_t_nope", table_name="t")')
    assert [p.what for p in SchemaModel.replay([base], wrong, "postgresql").check(wrong)] == ["index ix_t_nope"]


def test_project_modules_are_read_once_per_review_and_again_in_the_next(empty_project, monkeypatch):
    helpers = empty_project / "app_helpers.py"
    helpers.write_text("LIMIT = 10\n")
    for i in range(3):
        write_revision(empty_project, f"r{i}", f"r{i - 1}" if i else None, extra_header="import app_helpers")
    reads: list[str] = []
    real = imports.import_time_code
    monkeypatch.setattr(
        imports, "import_time_code", lambda path, sources: reads.append(path.name) or real(path, sources)
    )

    first = _review(empty_project, ["r0", "r1", "r2"])
    pipeline._lint(first)
    assert reads == ["app_helpers.py"]  # three migrations import it: read once
    assert not any(h.finding.rule == "module-level-code" for f in first.files.values() for h in f.hits)

    _rewrite(helpers, "import subprocess\nsubprocess.run(['true'])\n")  # now it runs code on import
    second = _review(empty_project, ["r0", "r1", "r2"])
    pipeline._lint(second)
    assert reads == ["app_helpers.py", "app_helpers.py"]  # the next review reads it again
    assert all(any(h.finding.rule == "module-level-code" for h in f.hits) for f in second.files.values())
