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

BACKUP_DB = (
    "Back up the target database, verify the archive and return backup_id with the restore command. Call "
    "it before anything risky runs on a real database. Never restores or changes the database; a "
    "production target escalates (a human approves migrating it)."
)

LIST_BACKUPS = (
    "List the verified backups, newest first, with revision, rows, size and restore command, and the "
    "newest backup of the configured database. Call it to check a recent backup exists before a risky "
    "migration. Read-only."
)

ARG_LABEL = "Short name, e.g. 'before-drop-legacy-users' (letters, digits, '.', '_', '-'); part of the file name."
ARG_VERIFY = (
    "'list': the archive is readable and complete; 'restore': also restore it into a scratch database and"
    " compare row counts (slower)."
)
ARG_TABLES = "Only these tables (names as in the database); omit for the whole database."


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="backup_db",
        title="Back up the database",
        description=BACKUP_DB,
        annotations=ToolAnnotations(
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
            readOnlyHint=True,
            destructiveHint=False,
            idempotentHint=True,
            openWorldHint=False,
        ),
    )
    async def list_backups_tool(ctx: Context) -> ListBackupsResult:
        return await run_tool(state, lambda project: list_backups(project, progress_of(ctx)))
