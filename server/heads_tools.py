"""MCP registration of check_heads and merge_heads."""

from __future__ import annotations

from typing import Annotated

from alembic_mcp.tools.check_heads import CheckHeadsResult, check_heads
from alembic_mcp.tools.merge_heads import MergeHeadsResult, merge_heads
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from . import descriptions as d
from .context import ServerState, progress_of, run_tool
from .elicit import confirm_with_human


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="check_heads",
        title="Check migration heads",
        description=d.CHECK_HEADS,
        annotations=ToolAnnotations(
            title="Check migration heads", readOnlyHint=True, destructiveHint=False,
            idempotentHint=True, openWorldHint=False,
        ),
    )
    async def check_heads_tool(ctx: Context) -> CheckHeadsResult:
        return await run_tool(state, lambda project: check_heads(project, progress_of(ctx)))

    @server.tool(
        name="merge_heads",
        title="Merge migration heads",
        description=d.MERGE_HEADS,
        annotations=ToolAnnotations(
            title="Merge migration heads", readOnlyHint=False, destructiveHint=False,
            idempotentHint=False, openWorldHint=False,
        ),
    )
    async def merge_heads_tool(
        ctx: Context,
        heads: Annotated[list[str] | None, Field(description=d.ARG_HEADS)] = None,
        message: Annotated[str, Field(description=d.ARG_MESSAGE)] = "merge heads",
        dry_run: Annotated[bool, Field(description=d.ARG_DRY_RUN)] = False,
        acknowledge_conflicts: Annotated[bool, Field(description=d.ARG_ACK)] = False,
    ) -> MergeHeadsResult:
        async def run(project):
            result = await merge_heads(project, heads=heads, message=message, dry_run=dry_run,
                                       acknowledge_conflicts=acknowledge_conflicts, progress=progress_of(ctx))
            if result.verdict == "escalate" and any(e.rule == "conflicting-heads" for e in result.escalations):
                question = (result.summary + " Merge anyway? Only say yes if the changes to these tables "
                            "are independent.")
                if await confirm_with_human(ctx, question):
                    result = await merge_heads(project, heads=heads, message=message, dry_run=dry_run,
                                               acknowledge_conflicts=True, progress=progress_of(ctx))
            return result

        return await run_tool(state, run)
