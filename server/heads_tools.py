"""MCP registration of check_heads and merge_heads."""

from typing import Annotated

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server import descriptions as d
from alembic_mcp.server.arguments import MAX_LIST_ITEMS, MAX_MESSAGE_CHARS, MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.server.elicit import Confirmation, client_can_elicit, human_said_yes
from alembic_mcp.tools.heads.check import CheckHeadsResult, check_heads
from alembic_mcp.tools.heads.merge import MergeHeadsResult, conflicting_tables, merge_heads


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="check_heads",
        title="Check migration heads",
        description=d.CHECK_HEADS,
        annotations=ToolAnnotations(
            readOnlyHint=True,
            destructiveHint=False,
            idempotentHint=True,
            openWorldHint=False,
        ),
    )
    async def check_heads_tool(ctx: Context) -> CheckHeadsResult:
        return await run_tool(state, lambda project: check_heads(project, progress_of(ctx)))

    async def ask_about_conflicts(
        ctx: Context, heads: list[str] | None = None, acknowledge_conflicts: bool = False
    ) -> Elicit[Confirmation] | None:
        """Ask the human before merging heads that change the same tables (when the client can)."""
        if acknowledge_conflicts or not client_can_elicit(ctx):
            return None
        tables = await run_tool(state, lambda project: conflicting_tables(project, heads))
        if not tables:
            return None
        return Elicit(
            f"The heads to merge all change {', '.join(tables)}. Merging orders these changes silently. "
            "Merge anyway? Only confirm if the changes to these tables are independent.",
            Confirmation,
        )

    async def merge_heads_tool(
        ctx: Context,
        heads: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_REVISION_CHARS)]] | None,
            Field(description=d.ARG_HEADS, max_length=MAX_LIST_ITEMS),
        ] = None,
        message: Annotated[str, Field(description=d.ARG_MESSAGE, min_length=1, max_length=MAX_MESSAGE_CHARS)] = (
            "merge heads"
        ),
        dry_run: Annotated[bool, Field(description=d.ARG_DRY_RUN)] = False,
        acknowledge_conflicts: Annotated[bool, Field(description=d.ARG_ACK)] = False,
        human: Annotated[ElicitationResult[Confirmation], Resolve(ask_about_conflicts)] = None,  # type: ignore[assignment]  # mcp fills it
    ) -> MergeHeadsResult:
        acknowledged = acknowledge_conflicts or human_said_yes(human)
        return await run_tool(
            state,
            lambda project: merge_heads(
                project,
                heads=heads,
                message=message,
                dry_run=dry_run,
                acknowledge_conflicts=acknowledged,
                progress=progress_of(ctx),
            ),
        )

    server.add_tool(
        merge_heads_tool,
        name="merge_heads",
        title="Merge migration heads",
        description=d.MERGE_HEADS,
        annotations=ToolAnnotations(
            readOnlyHint=False,
            destructiveHint=False,
            idempotentHint=False,
            openWorldHint=False,
        ),
    )
