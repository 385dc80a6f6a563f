"""Issue 11, item 2: nothing a client sends becomes code.

The docstring-breaking payload is refused by generate_migration and merge_heads (dry run or not,
in-process and over MCP): no file is written and nothing runs. Behind the validation, every file the
tools write must be a plain migration module before Alembic may keep (and import) it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import anyio
import pytest
from conftest import write_revision
from mcp import Client

from alembic_mcp.server.app import build_server
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.core.errors import InvalidArgument
from alembic_mcp.tools.generate.tool import generate_migration
from alembic_mcp.tools.heads.merge import merge_heads
from alembic_mcp.tools.worker.ops.plain_module import NotPlainModule, check_plain_module

HEAD = "b2e1d1ce0002"
TEMPLATE = (Path(__file__).resolve().parent.parent / "examples/residency/migrations/script.py.mako").read_text()


def payload(marker: Path) -> str:
    return f'x"""; import os; os.system("touch {marker}") ; """'


def versions(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "migrations" / "versions").iterdir() if p.suffix == ".py")


def two_heads(project: Path) -> None:
    write_revision(project, "c0000001", HEAD, message="left")
    write_revision(project, "c0000002", HEAD, message="right")


@pytest.fixture
def marker():
    path = Path(f"/tmp/pwned-{secrets.token_hex(6)}")
    yield path
    assert not path.exists(), "the payload ran"
    path.unlink(missing_ok=True)


@pytest.mark.parametrize("dry_run", [True, False])
def test_payload_in_generate_migration_writes_nothing_and_runs_nothing(example_project, pg_url, marker, dry_run):
    before = versions(example_project)
    project = load_project(example_project, {"database_url": pg_url})
    with pytest.raises(InvalidArgument, match=r"quote|path separator"):
        anyio.run(lambda: generate_migration(project, message=payload(marker), dry_run=dry_run))
    assert versions(example_project) == before and not marker.exists()


@pytest.mark.parametrize("dry_run", [True, False])
def test_payload_in_merge_heads_writes_nothing_and_runs_nothing(example_project, pg_url, marker, dry_run):
    two_heads(example_project)
    before = versions(example_project)
    project = load_project(example_project, {"database_url": pg_url})
    with pytest.raises(InvalidArgument, match=r"quote|path separator"):
        anyio.run(lambda: merge_heads(project, message=payload(marker), dry_run=dry_run))
    assert versions(example_project) == before and not marker.exists()


def test_payload_over_mcp_is_a_tool_error(example_project, sqlite_url, marker):
    two_heads(example_project)
    before = versions(example_project)

    async def main():
        async with Client(build_server(str(example_project), {"database_url": sqlite_url})) as client:
            for tool in ("generate_migration", "merge_heads"):
                for dry_run in (True, False):
                    answer = await client.call_tool(tool, {"message": payload(marker), "dry_run": dry_run})
                    assert answer.is_error and "message contains" in answer.content[0].text, answer

    anyio.run(main)
    assert versions(example_project) == before and not marker.exists()


@pytest.mark.parametrize(
    "message, problem",
    [("it's done", "single quote"), ("a\nb", "newline"), ("tab\there", "control character"), ("x`y`", "backtick")],
)
def test_messages_that_could_leave_the_docstring_are_refused(example_project, sqlite_url, message, problem):
    project = load_project(example_project, {"database_url": sqlite_url})
    with pytest.raises(InvalidArgument, match=problem):
        anyio.run(lambda: generate_migration(project, message=message, dry_run=True))


@pytest.mark.parametrize("tool", ["generate", "merge"])
def test_a_template_that_renders_code_is_refused_and_removed(example_project, sqlite_url, marker, tool):
    """A script.py.mako that turns the revision into code: the file is refused before Alembic imports it."""
    (example_project / "migrations" / "script.py.mako").write_text(
        TEMPLATE.replace("# revision identifiers", f'import os\nos.system("touch {marker}")\n# revision identifiers')
    )
    before = versions(example_project)
    project = load_project(example_project, {"database_url": sqlite_url})
    if tool == "generate":
        call = generate_migration(project, message="add nothing", autogenerate=False)
    else:
        two_heads(example_project)
        before = versions(example_project)
        call = merge_heads(project, message="merge heads")
    with pytest.raises(InvalidArgument, match="not a plain migration module"):
        anyio.run(lambda: call)
    assert versions(example_project) == before and not marker.exists()
    leftovers = [p.name for p in (example_project / "migrations" / "versions").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


PLAIN = '''"""add thing

Revision ID: abc
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "abc"
down_revision: Union[str, Sequence[str], None] = None
branch_labels = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("anything inside a function body runs only when migrating")


def downgrade(flag: bool = False) -> None:
    pass
'''


def test_plain_module_accepts_alembics_shape():
    check_plain_module(PLAIN)


@pytest.mark.parametrize(
    "change, problem",
    [
        ('"""x"""; import os; os.system("id"); """"""', "Expr"),
        ("down_revision = __import__('os').system('id')", "computes a value"),
        ("x: print('hi') = 1", "computes a value"),
        ("@decorated\ndef f():\n    pass", "decorator"),
        ("def f(a=print('x')):\n    pass", "default"),
        ("class Sneaky:\n    pass", "ClassDef"),
        ("if True:\n    pass", "If"),
        ("obj.attr = 1", "plain name"),
        ("def broken(:", "does not parse"),
    ],
)
def test_plain_module_refuses_anything_that_runs_on_import(change, problem):
    with pytest.raises(NotPlainModule, match=problem):
        check_plain_module(PLAIN + "\n" + change + "\n")
