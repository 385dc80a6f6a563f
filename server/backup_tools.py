"""MCP registration of backup_db and list_backups (descriptions written for a model)."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_LIST_ITEMS, MAX_NAME_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.tools.backup.listing import ListBackupsResult, list_backups
from alembic_mcp.tools.backup.tool import BackupResult, backup_db

BACKUP_DB = """\
Back up the target database before a risky migration and return a handle (backup_id) to cite later.

PostgreSQL: pg_dump custom format (the pg_dump version is checked against the server's); MariaDB/MySQL:
mariadb-dump/mysqldump --single-transaction; SQLite: the online backup API. The archive is verified
before it is kept: verify="list" checks it is readable and holds every table (pg_restore --list, SQLite
integrity_check, a parse of the SQL dump); verify="restore" also restores it into a scratch database
(dropped afterwards) and compares per-table row counts. A backup that fails verification is deleted
and the verdict is fix (backup_id null). A manifest beside the archive records
backup_id, time (UTC), the Alembic revision(s), rows per table, size, sha256 and tool versions. The
result gives the exact restore command. Backups older than backup_retention_days (default 30) are
pruned after a successful backup and listed in `pruned`. A production target (environment or
production_hosts) is still backed up, but the verdict escalates: a human must approve migrating it.

Call it before anything risky runs against a real database (dropping tables or columns, data
migrations, type changes). It only reads the database and writes files into the project's backup
directory; it never restores and never changes the database. Passwords are never stored or shown.
"""

LIST_BACKUPS = """\
List the complete backups in the project's backup directory, newest first: backup_id, when (UTC) and
how old, label, database (password masked), Alembic revision(s), rows per table, size, sha256, whether
the archive is intact, how it was verified, and its restore command. Also names the newest backup of
the configured database (latest_for_target) so you can check a recent backup exists before a risky
migration. Half-written backups are never listed. Read-only: writes nothing, does not touch the database.
"""

ARG_LABEL = (
    "Short name for the backup, e.g. 'before-drop-legacy-users': letters, digits, '.', '_' and '-' "
    "only (it becomes part of the file name). Omit for none."
)
ARG_VERIFY = (
    "'list' (default): check the archive is readable and complete. 'restore': also restore it into "
    "a scratch database and compare row counts with the manifest (slower, strongest)."
)
ARG_TABLES = (
    'Back up only these tables (names as in the database, e.g. ["residents", "faculty"]); omit '
    "for the whole database. Unknown names are an error."
)


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="backup_db",
        title="Back up the database",
        description=BACKUP_DB,
        annotations=ToolAnnotations(
            title="Back up the database",
            readOnlyHint=False,
            destructiveHint=False,
            idempotentHint=False,
            openWorldHint=False,
        ),
    )
    async def backup_db_tool(
        ctx: Context,
        label: Annotated[str | None, Field(description=ARG_LABEL, min_length=1, max_length=MAX_NAME_CHARS)] = None,
        verify: Annotated[Literal["list", "restore"], Field(description=ARG_VERIFY)] = "list",
        tables: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]] | None,
            Field(description=ARG_TABLES, max_length=MAX_LIST_ITEMS),
        ] = None,
    ) -> BackupResult:
        return await run_tool(
            state,
            lambda project: backup_db(project, label=label, verify=verify, tables=tables, progress=progress_of(ctx)),
        )

    @server.tool(
        name="list_backups",
        title="List backups",
        description=LIST_BACKUPS,
        annotations=ToolAnnotations(
            title="List backups",
            readOnlyHint=True,
            destructiveHint=False,
            idempotentHint=True,
            openWorldHint=False,
        ),
    )
    async def list_backups_tool(ctx: Context) -> ListBackupsResult:
        return await run_tool(state, lambda project: list_backups(project, progress_of(ctx)))
