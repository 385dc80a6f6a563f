"""MCP registration of test_roundtrip."""

from __future__ import annotations

import functools
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.server.rehearsal import review_escalations
from alembic_mcp.tools.roundtrip.tool import MAX_SEED_ROWS, MAX_TIMEOUT_S, TestRoundtripResult, test_roundtrip

DESCRIPTION = (
    "Rehearse upgrade, downgrade, upgrade of each revision on a throwaway scratch database holding rows, "
    "proving schema and data survive; reports locks, model drift and diagnosed failures. Call it after "
    "review_migration, before a real database is migrated. Never migrates the user's database."
)

ARG_REVISION = "Last revision to test: an id, prefix, branch label or 'heads'."
ARG_FROM = "Start revision (exclusive); 'base' for the whole history; default: the target database's revision."
ARG_SEED = "Generated rows per table when data_from='seed'."
ARG_DATA = "'seed': generated rows; 'target': a read-only copy of the target's data."
ARG_TRACE = "PostgreSQL: report each upgrade's locks and table rewrites."
ARG_TIMEOUT = "Stop after this many seconds; the scratch database is dropped anyway."


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="test_roundtrip",
        title="Rehearse upgrade/downgrade/upgrade",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            readOnlyHint=True,
            destructiveHint=False,
            idempotentHint=True,
            openWorldHint=False,
        ),
    )
    async def test_roundtrip_tool(
        ctx: Context,
        revision: Annotated[str, Field(description=ARG_REVISION, min_length=1, max_length=MAX_REVISION_CHARS)] = (
            "heads"
        ),
        from_revision: Annotated[
            str | None, Field(description=ARG_FROM, min_length=1, max_length=MAX_REVISION_CHARS)
        ] = None,
        seed_rows: Annotated[int, Field(description=ARG_SEED, ge=0, le=MAX_SEED_ROWS)] = 20,
        data_from: Annotated[Literal["seed", "target"], Field(description=ARG_DATA)] = "seed",
        trace_locks: Annotated[bool, Field(description=ARG_TRACE)] = True,
        timeout_s: Annotated[int, Field(description=ARG_TIMEOUT, ge=1, le=MAX_TIMEOUT_S)] = 300,
    ) -> TestRoundtripResult:
        return await run_tool(
            state,
            lambda project: test_roundtrip(
                project,
                revision=revision,
                from_revision=from_revision,
                seed_rows=seed_rows,
                data_from=data_from,
                trace_locks=trace_locks,
                timeout_s=timeout_s,
                progress=progress_of(ctx),
                review=functools.partial(review_escalations, project),
            ),
        )
