"""``split=true``: the three-phase change as three revisions. The fixed file keeps the nullable add; a new
revision backfills, a third sets NOT NULL, chained after it (only for a head: nothing else builds on it).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from alembic_mcp.tools.review.rules.index_source import concurrent_build, drop_leftover


@dataclass(frozen=True)
class NewRevision:
    """A revision file autofix writes beside the fixed one."""

    revision: str
    slug: str
    message: str
    upgrade: str
    downgrade: str

    def file_name(self) -> str:
        return f"{self.revision}_{self.slug}.py"

    def source(self, down_revision: str) -> str:
        up = "\n".join("    " + line for line in self.upgrade.splitlines())
        down = "\n".join("    " + line for line in self.downgrade.splitlines())
        return (
            f'"""{self.message}\n\nRevision ID: {self.revision}\nRevises: {down_revision}\n"""\n'
            "import sqlalchemy as sa\nfrom alembic import op\n\n"
            f"revision = {self.revision!r}\ndown_revision = {down_revision!r}\nbranch_labels = None\n"
            f"depends_on = None\n\n\ndef upgrade() -> None:\n{up}\n\n\ndef downgrade() -> None:\n{down}\n"
        )


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def checked_not_null(table: str, column: str, enforce: str) -> str:
    """PostgreSQL's NOT NULL on a filled column without a long ACCESS EXCLUSIVE scan: a CHECK added NOT VALID,
    validated (SHARE UPDATE EXCLUSIVE), then SET NOT NULL (PostgreSQL 12+ trusts the CHECK), CHECK dropped."""
    check = f"ck_{table}_{column}_not_null"
    return (
        "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        f"op.create_check_constraint(op.f({check!r}), {table!r}, {column + ' IS NOT NULL'!r}, "
        "postgresql_not_valid=True)\n"
        f'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {check}")\n'
        f"{enforce}\n"
        f"op.drop_constraint(op.f({check!r}), {table!r}, type_='check')"
    )


def split_steps(
    table: str, column: str, backfill: str | None, enforce: str, relax: str, backend: str | None
) -> list[NewRevision]:
    """The revisions after the nullable add: the backfill (when there is one) and the NOT NULL step."""
    if backend in (None, "postgresql"):
        enforce = checked_not_null(table, column, enforce)
    revisions = []
    if backfill is not None:
        revisions.append(
            NewRevision(new_id(), f"backfill_{table}_{column}", f"backfill {table}.{column}", backfill, "pass")
        )
    revisions.append(
        NewRevision(new_id(), f"{table}_{column}_not_null", f"set {table}.{column} NOT NULL", enforce, relax)
    )
    return revisions


def validate_revision(code: str) -> NewRevision:
    """The VALIDATE of a constraint created NOT VALID, in its own revision: deployed in its own transaction it
    scans under SHARE UPDATE EXCLUSIVE (reads and writes go on), which is what NOT VALID was for."""
    found = re.search(r"VALIDATE CONSTRAINT (\w+)", code)
    name = found.group(1) if found else "constraint"
    upgrade = "op.execute(\"SET LOCAL lock_timeout = '5s'\")\n" + code
    return NewRevision(new_id(), f"validate_{name}"[:60], f"validate {name}", upgrade, "pass")


def index_revision(index: dict) -> NewRevision:
    """A CREATE INDEX CONCURRENTLY in a revision of its own: its autocommit block commits only revisions that
    are complete (alembic_version names them), so a re-run after a later failure starts after them. ``index``
    is the rule's ``later_index``: the columns and options as source (expressions as the migration wrote
    them); a leftover INVALID index of a failed build is dropped before the build."""
    name, table = index["name"], index["table"]
    create = concurrent_build(name, table, index["columns"], index["unique"], index.get("options"))
    drop = _timed(drop_leftover(name, table))
    return NewRevision(new_id(), f"index_{name}"[:60], f"index {name} (concurrently)", create, drop)


def _timed(statement: str) -> str:
    """``statement`` in an autocommit block with a session lock_timeout (a SET LOCAL would not hold there),
    reset after it so it does not outlast the block."""
    return (
        "with op.get_context().autocommit_block():\n"
        "    op.execute(\"SET lock_timeout = '5s'\")\n"
        f"    {statement}\n"
        '    op.execute("RESET lock_timeout")'
    )
