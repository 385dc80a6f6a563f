"""The long-form tool reference: what each tool checks and returns in depth.

The descriptions in ``tools/list`` stay short (what, when, what not); these texts are served as the
resource ``alembic://reference/{tool}`` (server/resources.py) together with the full output schema.
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
apply_fixes=true applies review_migration's mechanical fixes to the new file in the same call (see
review_migration: apply_fixes) and reports them under autofix; not with dry_run.
Never changes any database other than its own scratch database; writes only in the versions folder.
"""

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
(create_engine, connect(), os.environ), unread-statement (helpers the review cannot show to be read-only: their
source is read from the file, the project or its virtualenv; unless the rendered SQL covered them
and no code branches on offline mode; each revision's coverage says which layers
read which statement), module-level-code (code outside upgrade/downgrade, or in the body of a project
module the migration imports). Raw SQL gets the same rules as operations. Tables created in the same
migration are not flagged. On PostgreSQL targets the revision is also rendered offline and linted with
squawk, and every rendered statement no operation accounts for goes through the raw-SQL rules (a helper's
DELETE is data loss; SQL those rules cannot classify is uninspectable-sql). With a reachable
database, row counts and NULL/orphan/duplicate checks turn "may hold data" into facts.

Verdict: escalate when a human must decide (drop-table-with-data, drop-column-with-data,
primary-key-change, large-data-migration, production-database, protected-table, audit-trail,
unclear-rollback, breaking-api-change, uninspectable-sql, own-connection, destructive-data-change), fix
when a finding has severity error (apply its fix, call again), proceed otherwise. A line `# alembic-mcp: ignore[rule-id]
reason: ...` in the migration silences that rule's finding there; it never clears an escalation (the
escalation lists the suppressed finding). Only a human clears an escalation: when the client supports
elicitation the human is asked directly; otherwise they run `alembic-mcp approve REVISION --rule RULE
--reason ...` in a terminal. Approved escalations come back under approvals (who, when, reason) and no
longer count; editing the file voids them.

Several revisions in one call are judged together: a finding another of them resolves (fk-missing-index:
a later index or drop; json-column: a later jsonb conversion or drop; set-not-null: a CHECK IS NOT NULL
added and validated earlier) comes back as info, `resolved_by <rev>:`, without a fix. detail='summary'
(default) gives a rule's why and long fix once, and across revisions a rule's later warnings as one
finding naming each place (table.column (revision:line)); detail='full' gives every finding whole.

Call it after writing or generating a migration, before test_roundtrip. Default: every revision not
yet applied to the target database (the heads when it cannot be reached). Never runs a migration or
changes the database; without apply_fixes the only file it writes is the approvals log, when a human
approves.

apply_fixes=true (CLI: --fix) rewrites the selected revisions' files with the fixes
that have one right answer: add-column-required when the models give the column a constant default
(add nullable with the model's server default, backfill with the model's default, set NOT NULL),
missing-lock-timeout (SET LOCAL lock_timeout first in upgrade()), create-index-non-concurrent (in an
autocommit block: a leftover INVALID index dropped, then built CONCURRENTLY with its columns and expressions as
written; in a new revision when this one changes more), drop-index-non-concurrent (CONCURRENTLY IF EXISTS in an
autocommit block),
fk-not-valid-missing (NOT VALID with the original's arguments kept; VALIDATE CONSTRAINT in a new
revision after a head, with a note on what it saves under env.py's deploy mode), add-column-required in
downgrade() for a column upgrade() replaced by a foreign key (restored by the reverse lookup),
unnamed-constraint (the name the naming convention gives, with op.f()), empty-downgrade and
downgrade-not-inverse (the exact inverse of simple operations). A fix whose value is a human's choice
(no model default, rename or drop, a cast) is not applied: autofix.not_applied says why. A fix is never
applied to a finding that escalates. Files are written atomically and only in the versions directories,
must parse and be plain modules; then the file is reviewed again and the changed revisions are rehearsed
with test_roundtrip (on a copy of the target's rows when one is configured). Each fix stands alone: one
that makes the second review lose an escalation or the rehearsal fail is put back (autofix.undone, with
why, and an error finding says so), the others stay. When the rehearsal fails the same way without
the fixes, they stay, unproven (autofix.rehearsal says so). An interrupted call puts every file back.
autofix lists each kept fix with its unified diff and how it was checked, files_to_commit, the
rehearsal's outcome and whether every file was restored. diff_only=true (CLI --diff) shows the diffs and
writes nothing. split=true (CLI --split) writes the required column's three phases as three revisions
when the file is a head: the file keeps the nullable add, a new revision backfills, a third sets NOT NULL
(on PostgreSQL through a CHECK added NOT VALID and validated first).
Refused when the server is read-only.
"""

TEST_ROUNDTRIP = """\
Rehearse the migrations on a scratch database: for each revision in the range, upgrade one step,
downgrade it, upgrade it again, and prove that schema and data survive.

The scratch database is created for the call (on the target's server, or scratch_url) and always
dropped, also on failure or timeout (on PostgreSQL and MariaDB right after the result:
scratch_database.dropped is "pending"); the user's database is only read (its revision, and its data when
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
if it then passes it is a `seed-limitation` (info) only when generated values no real row holds caused it
(text a conversion to JSON or a number cannot parse); NULLs, orphans, duplicates and the like are values
real rows can hold, so the failure stays the migration's (`on_seed_rows`). The review's escalations of
the same revisions stand in the rehearsal's verdict: a clean rehearsal does not clear them. `deploy`
compares how env.py runs the migrations (one transaction, or one per revision) with the rehearsal.

On a production target it escalates before running when data_from='target' (a dump of production)
or when no scratch_url keeps the scratch database off the production server.

Call it after generate_migration / review_migration and before anything runs on a real database.
Verdict: proceed (safe both ways), fix (findings say how), escalate (a rollback that cannot restore
the schema, or an unexplained failure: ask a human).
"""

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

DETAILS: dict[str, str] = {
    "check_heads": CHECK_HEADS,
    "merge_heads": MERGE_HEADS,
    "generate_migration": GENERATE_MIGRATION,
    "review_migration": REVIEW_MIGRATION,
    "test_roundtrip": TEST_ROUNDTRIP,
    "backup_db": BACKUP_DB,
    "list_backups": LIST_BACKUPS,
}
