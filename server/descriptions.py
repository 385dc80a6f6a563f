"""Texts written for a model: the server instructions and each tool's description."""

INSTRUCTIONS = """\
alembic-mcp changes database schemas safely with Alembic. It never migrates the user's database: it
generates, reviews, rehearses on a scratch database, merges heads and backs up. Every tool returns a
verdict: proceed (go on), fix (apply the findings' fixes, then call again), escalate (stop; show the
escalations to a human and wait for their decision).

Safe workflow after a model change:
1. check_heads: the history must have one head and no broken files.
2. generate_migration: writes the migration and reviews it.
3. review_migration: every dangerous operation, with the safe rewrite.
4. test_roundtrip: upgrade, downgrade, upgrade on a scratch copy; schema and data must survive.
5. backup_db before anything risky runs against a real database (list_backups shows what exists).
6. Commit the model change and the migration file together (generate_migration lists the files).
Several heads: merge_heads. Never bypass an escalate verdict: relay its escalations to a human.
Only a human approves an escalation (review_migration asks them where the client supports elicitation,
else they run `alembic-mcp approve` in their own terminal). Never write or edit the approvals log,
never add suppression comments to silence an escalation.
"""

CHECK_HEADS = """\
Inspect the Alembic migration history of the project and where the target database stands in it.

Returns heads, bases, branch points and merge points (revision id, message, file); diagnoses broken
histories as findings (migration files that fail to import with error and line, a down_revision
pointing at a missing file, cycles, duplicate revision ids, an env.py that raises); compares the
database's current revision with the heads (at_head, behind with the pending revisions, ahead/unknown,
empty, unreachable). With several heads it lists which tables each branch changes: two heads changing
the same table escalate (conflicting-heads), otherwise the verdict is fix with merge_heads as next step.

Call it first, before generating or merging, and after pulling other people's migrations.
Read-only: writes no file and never changes the database.
"""

MERGE_HEADS = """\
Join several Alembic heads with a merge revision written by Alembic's own merge command.

By default merges all heads (3 or more too). Before writing it checks whether the heads change the
same tables: if so the verdict is escalate and nothing is written, unless acknowledge_conflicts is
true (a human said the branches are independent); a client that supports elicitation is asked
directly. After writing, it checks that exactly one head remains and that the merge file holds no
operations, then rehearses `upgrade heads` through the merge on a scratch database (never the
user's database) and reports the result. dry_run=true writes nothing and returns the file it would
write. Only writes inside the project's versions directory.
"""

ARG_HEADS = "Revision ids (or unique prefixes) of the heads to merge; omit to merge every head."
ARG_MESSAGE = "Message of the merge revision, e.g. 'merge heads'. No path separators."
ARG_DRY_RUN = "true: write nothing, return the merge file that would be written."
ARG_ACK = (
    "true only after a human confirmed that conflicting heads (same tables changed) may be merged; "
    "the result records the acknowledgement."
)
