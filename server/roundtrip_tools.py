"""MCP registration of test_roundtrip."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.tools.roundtrip.tool import MAX_SEED_ROWS, MAX_TIMEOUT_S, TestRoundtripResult, test_roundtrip

DESCRIPTION = """\
Rehearse the migrations on a scratch database: for each revision in the range, upgrade one step,
downgrade it, upgrade it again, and prove that schema and data survive.

The scratch database is created for the call (on the target's server, or scratch_url) and always
dropped, also on failure or timeout; the user's database is only read (its revision, and its data when
data_from='target'). The scratch database is brought to from_revision (default: the target's revision)
and filled with seed_rows generated rows per table (types, NOT NULL, unique and foreign keys respected),
or with a copy of the target's data. After every step it compares a full schema snapshot (tables,
columns, keys, indexes, constraints, PostgreSQL enums/sequences/views) and per-column checksums with the
state before, and reports readable differences ("index ix_persons_email missing after downgrade") and
data a downgrade loses, per table and column. On PostgreSQL (trace_locks) it reports the locks each
upgrade takes (mode and what it blocks) and the tables it rewrites. At head it compares the models with
the database (drift). A failing step is diagnosed at the statement that raised (operation, migration
file:line): NOT NULL, foreign-key, unique and CHECK violations with the violating rows by key as that
statement met them, type mismatch, object already exists / missing / dropped but never created /
defined twice, an unnamed constraint, a deliberate raise (a one-way revision), half-applied DDL on
MariaDB; anything else escalates. The rehearsal goes on past a failed step (rolled back on
PostgreSQL, else rebuilt from base) and lists every failure in `failures`; `stopped` says where it
stopped (a failed upgrade, or the time budget). A step that fails on seed rows is re-run without them:
if it then passes it is a `seed-limitation` (info), not a defect. `deploy` compares how env.py runs
the migrations (one transaction, or one per revision) with the rehearsal.

On a production target it escalates before running when data_from='target' (a dump of production)
or when no scratch_url keeps the scratch database off the production server.

Call it after generate_migration / review_migration and before anything runs on a real database.
Verdict: proceed (safe both ways), fix (findings say how), escalate (a rollback that cannot restore
the schema, or an unexplained failure: ask a human).
"""

ARG_REVISION = "Last revision to test: an id, unique prefix, branch label, or 'heads' (default: all heads)."
ARG_FROM = (
    "Revision the scratch database starts at (exclusive); 'base' for the whole history; default: the "
    "target database's revision, or the parent of the tested revision if the target is already there."
)
ARG_SEED = f"Generated rows per table (0 to {MAX_SEED_ROWS}) when data_from='seed'."
ARG_DATA = "'seed': generated rows; 'target': a read-only copy of the target database's data."
ARG_TRACE = "PostgreSQL: report the locks each upgrade takes and the tables it rewrites."
ARG_TIMEOUT = f"Stop after this many seconds (1 to {MAX_TIMEOUT_S}); the scratch database is dropped anyway."


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="test_roundtrip",
        title="Rehearse upgrade/downgrade/upgrade",
        description=DESCRIPTION,
        annotations=ToolAnnotations(
            title="Rehearse upgrade/downgrade/upgrade",
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
            ),
        )
