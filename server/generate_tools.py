"""MCP registration of generate_migration."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alembic_mcp.server.arguments import MAX_MESSAGE_CHARS, MAX_REVISION_CHARS
from alembic_mcp.server.context import ServerState, progress_of, run_tool
from alembic_mcp.tools.generate.tool import GenerateMigrationResult, generate_migration

GENERATE_MIGRATION = """\
Write a new Alembic migration for the model changes just made, review it, and say whether it is ready
to commit and which files belong in the commit.

Runs Alembic's own `revision --autogenerate` (the project's template and post-write hooks) in a fresh
interpreter, comparing the models with a scratch database upgraded to the current heads (default,
against="scratch": the developer's database does not matter), or with the target database
(against="target", refused unless it is at head). Returns the revision id and file, the operations
detected (op, table, column), the rendered upgrade() and downgrade(), review_migration's full review
of the new file merged into the findings (its whole rule catalogue, squawk on PostgreSQL, the target's
data: dropping a column or table with data escalates; a NOT NULL column without default on a table with
rows is a fix with the three-phase rewrite; protected and audit tables escalate), its verdict as
review_verdict, and files_to_commit (the migration plus the model files changed according to git).

It also reports autogenerate's blind spots: nothing detected (target_metadata None, model modules
env.py never imports, named by table and module; then no file is written), a drop plus an add that is
probably a rename (suggests alter_column(new_column_name=) / rename_table), a migration that would
drop every table (refused), enum value / CHECK / server_default changes, views, functions and triggers
(not detected: how to write them), metadata without naming_convention, SQLite without
render_as_batch. Refuses with several heads (call merge_heads first). autogenerate=false writes an
empty revision on the current head. dry_run=true writes nothing and returns the file it would write.
Never changes any database other than its own scratch database; writes only in the versions folder.
"""

ARG_MESSAGE = (
    "Short description of the change; becomes the file name slug, e.g. 'add middle_name to "
    "persons'. No path separators or newlines."
)
ARG_AUTOGENERATE = (
    "true (default): compare the models with the database; false: write an empty revision to fill in by hand."
)
ARG_REV_ID = "Revision id to use (letters, digits, underscores; must not exist yet); omit to let Alembic pick one."
ARG_DRY_RUN = "true: write nothing; return the file that would be written, with its review."
ARG_AGAINST = (
    "'scratch' (default): compare with a scratch database upgraded to the heads; "
    "'target': compare with the configured database, which must be at head."
)


def register(server: MCPServer, state: ServerState) -> None:
    @server.tool(
        name="generate_migration",
        title="Generate a migration",
        description=GENERATE_MIGRATION,
        annotations=ToolAnnotations(
            title="Generate a migration",
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
            ),
        )
