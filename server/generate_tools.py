"""MCP registration of generate_migration."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_MESSAGE_CHARS, MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.server.rehearsal import rehearse_changed
from alembic_mcp.tools.generate.tool import GenerateMigrationResult, generate_migration

GENERATE_MIGRATION = (
    "Autogenerate a migration for the model changes just made, review it and list files_to_commit; "
    "reports autogenerate's blind spots (renames, enum, CHECK and default changes). Call it after editing"
    " models, with one head. Never runs the migration on a real database."
)

ARG_MESSAGE = "What changed, e.g. 'add middle_name to persons'; becomes the file name slug."
ARG_AUTOGENERATE = "false: write an empty revision to fill in by hand."
ARG_REV_ID = "Revision id to use (letters, digits, underscores); omit to let Alembic pick one."
ARG_DRY_RUN = "true: write nothing; return the file and its review."
ARG_APPLY_FIXES = "true: apply the review's mechanical fixes, then rehearse; failing ones undone."
ARG_AGAINST = "'scratch': a scratch database at head; 'target': the target at head, via target_read_only_url only."


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="generate_migration",
        title="Generate a migration",
        description=GENERATE_MIGRATION,
        annotations=ToolAnnotations(
            readOnlyHint=False,
            destructiveHint=False,
            idempotentHint=False,
            openWorldHint=False,
        ),
    )
    async def generate_migration_tool(
        ctx: Context,
        message: Annotated[str, Field(description=ARG_MESSAGE, min_length=1, max_length=MAX_MESSAGE_CHARS)],
        autogenerate: Annotated[bool, Field(description=ARG_AUTOGENERATE)] = True,
        rev_id: Annotated[
            str | None, Field(description=ARG_REV_ID, min_length=1, max_length=MAX_REVISION_CHARS)
        ] = None,
        dry_run: Annotated[bool, Field(description=ARG_DRY_RUN)] = False,
        against: Annotated[Literal["scratch", "target"], Field(description=ARG_AGAINST)] = "scratch",
        apply_fixes: Annotated[bool, Field(description=ARG_APPLY_FIXES)] = False,
    ) -> GenerateMigrationResult:
        return await run_tool(
            state,
            lambda project: generate_migration(
                project,
                message=message,
                autogenerate=autogenerate,
                rev_id=rev_id,
                dry_run=dry_run,
                against=against,
                progress=progress_of(ctx),
                apply_fixes=apply_fixes,
                rehearse=rehearse_changed,
            ),
        )
