"""MCP registration of review_migration."""

from typing import Annotated

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_PATH_CHARS, MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.server.elicit import EscalationApproval, approval_reason, client_can_elicit, client_name
from alembic_mcp.tools.review.approve import approval_question, file_digests, record_elicited
from alembic_mcp.tools.review.tool import ReviewMigrationResult, review_migration

REVIEW_MIGRATION = """\
Review Alembic migrations before anything runs them: every dangerous operation, why it is dangerous
for this database and its data, the exact safe rewrite as code, and whether a human must decide.

Checks (rule ids in findings; docs/rules.md has each with an example and its fix): NOT NULL columns
without default on tables with rows (add-column-required, fix = add nullable, backfill, set NOT NULL),
set-not-null, volatile-default, json-column, rename-column, drop-column (with non-null counts),
change-column-type, enum-change, create-index-non-concurrent, concurrent-in-transaction,
drop-index-non-concurrent, fk-not-valid-missing (with orphan counts and sample ids),
add-unique-constraint (with duplicate counts), primary-key-change, unnamed-constraint, fk-missing-index,
drop-table (with row counts), rename-table, unbatched-backfill, raw-sql-interpolated,
raw-sql-uninspectable, missing-lock-timeout, offline-unsafe, empty-downgrade, downgrade-not-inverse,
irreversible-downgrade, downgrade-loses-data; and code that would slip past the review: dynamic-op-call
(getattr on op, aliases), dynamic-code (exec/eval, importlib, subprocess), own-connection
(create_engine, connect(), os.environ), unread-statement (helpers the review cannot read, unless the
rendered SQL covered them; each revision's coverage says which layers read which statement). Raw SQL
gets the same rules as operations. Tables created in the same migration are not flagged.
On PostgreSQL targets the revision is also rendered offline and linted with squawk. With a reachable
database, row counts and NULL/orphan/duplicate checks turn "may hold data" into facts.

Verdict: escalate when a human must decide (drop-table-with-data, drop-column-with-data,
primary-key-change, large-data-migration, production-database, protected-table, audit-trail,
unclear-rollback, breaking-api-change, uninspectable-sql, own-connection), fix when a finding has
severity error (apply its fix, call again), proceed otherwise. A line `# alembic-mcp: ignore[rule-id]
reason: ...` in the migration silences that rule's finding there; it never clears an escalation (the
escalation lists the suppressed finding). Only a human clears an escalation: when the client supports
elicitation the human is asked directly; otherwise they run `alembic-mcp approve REVISION --rule RULE
--reason ...` in a terminal. Approved escalations come back under approvals (who, when, reason) and no
longer count; editing the file voids them.

Call it after writing or generating a migration, before test_roundtrip. Default: every revision not
yet applied to the target database (the heads when it cannot be reached). Read-only: never runs a
migration or changes the database; the only file it writes is the approvals log, when a human approves.
"""

ARG_REVISION = (
    "Which revisions to review, in Alembic syntax: a revision id, a unique prefix, 'head', 'heads', "
    "a branch label, or a range 'lower:upper' such as 'base:head' (both ends included). Omit it (and "
    "path) to review every revision not yet applied to the target database."
)
ARG_PATH = (
    "A single migration file to review, relative to the project (or absolute), inside the versions "
    "directory, e.g. 'migrations/versions/3f2a_add_email.py'. Files elsewhere are refused. Do not "
    "combine with revision."
)
ARG_INCLUDE_SQL = "true: also return each revision's SQL rendered offline (alembic upgrade --sql)."


def register(server: MCPServer, state: ServerState) -> None:
    # The review the elicitation was about, per call arguments: the tool records approvals for exactly it.
    asked: dict[tuple, tuple[ReviewMigrationResult, dict[str, str]]] = {}

    async def ask_for_approval(
        ctx: Context, revision: str | None = None, path: str | None = None, include_sql: bool = False
    ) -> Elicit[EscalationApproval] | None:
        """Ask the human to approve the escalations (when the client can elicit; the agent cannot answer)."""
        if not client_can_elicit(ctx):
            return None

        async def first_review(project):
            result = await review_migration(project, revision=revision, path=path, include_sql=include_sql)
            return result, file_digests(project, result)

        result, digests = await run_tool(state, first_review)
        if not result.escalations:
            return None
        asked[(revision, path, include_sql)] = (result, digests)
        return Elicit(approval_question(result), EscalationApproval)

    @server.tool(
        name="review_migration",
        title="Review migrations",
        description=REVIEW_MIGRATION,
        annotations=ToolAnnotations(
            title="Review migrations",
            readOnlyHint=True,
            destructiveHint=False,
            idempotentHint=True,
            openWorldHint=False,
        ),
    )
    async def review_migration_tool(
        ctx: Context,
        revision: Annotated[
            str | None, Field(description=ARG_REVISION, min_length=1, max_length=MAX_REVISION_CHARS)
        ] = None,
        path: Annotated[str | None, Field(description=ARG_PATH, min_length=1, max_length=MAX_PATH_CHARS)] = None,
        include_sql: Annotated[bool, Field(description=ARG_INCLUDE_SQL)] = False,
        human: Annotated[ElicitationResult[EscalationApproval], Resolve(ask_for_approval)] = None,  # type: ignore[assignment]  # mcp fills it
    ) -> ReviewMigrationResult:
        pending = asked.pop((revision, path, include_sql), None)
        reason = approval_reason(human)

        async def review(project):
            if pending is not None and reason is not None:
                who = f"human via MCP elicitation ({client_name(ctx)})"
                record_elicited(project, *pending, reason, who)
            return await review_migration(
                project, revision=revision, path=path, include_sql=include_sql, progress=progress_of(ctx)
            )

        return await run_tool(state, review)
