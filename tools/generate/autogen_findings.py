"""What autogenerate cannot see, as findings: models env.py never imports, target_metadata None,
probable renames (drop + add), enum / CHECK / server_default changes, views, functions, triggers,
metadata without a naming convention, SQLite without batch mode. Built from the generate worker's facts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.naming import naming_convention_finding
from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.generate.model_scan import ModelTable

# Operations SQLite cannot run without batch mode (ALTER TABLE there only adds/renames columns).
SQLITE_NEEDS_BATCH = {
    "drop_column",
    "alter_column",
    "create_foreign_key",
    "drop_constraint",
    "create_unique_constraint",
    "create_check_constraint",
    "create_primary_key",
}


class DetectedOperation(BaseModel):
    op: str = Field(description="Alembic operation, e.g. add_column, drop_table, alter_column.")
    table: str | None = None
    column: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="Type, nullability, changes, columns.")


def metadata_none_finding(project: Project, model_tables: list[ModelTable]) -> Finding:
    modules = sorted({t.module for t in model_tables})
    hint = (
        (
            f"`from {modules[0]} import Base` (the declarative base your models use) and "
            "`target_metadata = Base.metadata`"
        )
        if modules
        else "`target_metadata = Base.metadata`"
    )
    return Finding(
        rule="target-metadata-none",
        severity="error",
        message="env.py configures target_metadata=None, so autogenerate cannot compare anything.",
        file=project.relative(project.script_location / "env.py"),
        why="Without the models' MetaData Alembic refuses to autogenerate.",
        fix=f"In env.py: {hint}; import every model module before it.",
    )


def unimported_tables(model_tables: list[ModelTable], metadata_tables: list[str] | None) -> list[ModelTable]:
    if metadata_tables is None:
        return []
    known = set(metadata_tables) | {t.rsplit(".", 1)[-1] for t in metadata_tables}
    seen: set[str] = set()
    out = []
    for table in model_tables:
        if table.qualified not in known and table.table not in known and table.qualified not in seen:
            seen.add(table.qualified)
            out.append(table)
    return out


def import_fix(project: Project, missing: list[ModelTable], model_tables: list[ModelTable]) -> str:
    modules = sorted({t.module for t in (missing or model_tables)})
    env = project.relative(project.script_location / "env.py")
    if not modules:
        return f"Import the modules defining your models in {env} before target_metadata is set."
    imports = "; ".join(f"import {m}  # noqa: F401" for m in modules)
    return f"Add to {env} (or to the package that defines Base): {imports}"


def missing_findings(project: Project, missing: list[ModelTable], severity: str) -> list[Finding]:
    findings = []
    for module in sorted({t.module for t in missing}):
        tables = [t for t in missing if t.module == module]
        first = tables[0]
        names = ", ".join(f"{t.qualified} ({t.defined_by})" for t in tables)
        findings.append(
            Finding(
                rule="model-not-imported",
                severity=severity,
                message=f"Module {module} defines {names}, but target_metadata does not contain "
                f"{'it' if len(tables) == 1 else 'them'}: env.py never imports the module.",
                file=project.relative(first.file),
                line=first.line,
                table=first.qualified,
                why="Autogenerate only sees tables registered on target_metadata; a model module nobody "
                "imports is invisible, so its changes are silently left out of the migration.",
                fix=f"Import it where the models are collected (e.g. in "
                f"{project.relative(project.script_location / 'env.py')}): `import {module}  # noqa: F401`, "
                "then call generate_migration again.",
            )
        )
    return findings


def blind_spot_findings(facts: dict[str, Any], operations: list[DetectedOperation], project: Project) -> list[Finding]:
    """What autogenerate missed or cannot see, from the facts the generate worker gathered."""
    env = project.relative(project.script_location / "env.py")
    return [
        *_failed_check_findings(facts),
        *_enum_findings(facts),
        *_check_constraint_findings(facts),
        *_server_default_findings(facts, env),
        *_object_findings(facts),
        *_general_blind_spots(),
        *_naming_findings(facts, project.relative),
        *_sqlite_batch_findings(facts, operations, env),
    ]


def _failed_check_findings(facts: dict[str, Any]) -> list[Finding]:
    """Checks beyond autogenerate that could not run."""
    findings: list[Finding] = []
    if facts.get("errors"):
        findings.append(
            Finding(
                rule="blind-spot-check-failed",
                severity="info",
                message="Some checks beyond autogenerate could not run: " + "; ".join(facts["errors"])[:500],
                why="Those blind spots (enums, CHECK, defaults, views/functions/triggers) were not verified.",
                fix="Check them by hand in the migration.",
            )
        )
    return findings


def _enum_findings(facts: dict[str, Any]) -> list[Finding]:
    """Enum values changed in the models: autogenerate does not see them."""
    findings: list[Finding] = []
    for change in facts.get("enum_changes") or []:
        added = change["added"]
        fix = (
            "\n".join(
                ["with op.get_context().autocommit_block():"]
                + [f"    op.execute(\"ALTER TYPE {change['enum']} ADD VALUE IF NOT EXISTS '{v}'\")" for v in added]
            )
            if added
            else ""
        )
        if change["removed"]:
            fix += (
                "\n# Removing or renaming values: create the new type, ALTER COLUMN ... TYPE new USING "
                "col::text::new, drop the old type (or op.execute(\"ALTER TYPE ... RENAME VALUE 'a' TO "
                "'b'\"))."
            )
        findings.append(
            Finding(
                rule="enum-change",
                severity="warning",
                message=f"Enum {change['enum']} has values {change['model_values']} in the models but "
                f"{change['database_values']} in the database; autogenerate does not detect enum value "
                "changes.",
                why="The application will write values the database rejects.",
                fix=fix.strip(),
            )
        )
    return findings


def _check_constraint_findings(facts: dict[str, Any]) -> list[Finding]:
    """CHECK constraints added, removed or changed in the models."""
    findings: list[Finding] = []
    for change in facts.get("check_changes") or []:
        if change["change"] == "added":
            fix = (
                f"op.create_check_constraint({change['name']!r}, {change['table']!r}, "
                f"{change['model_sql']!r})  # downgrade: op.drop_constraint({change['name']!r}, "
                f"{change['table']!r}, type_='check')"
            )
        elif change["change"] == "removed":
            fix = f"op.drop_constraint({change['name']!r}, {change['table']!r}, type_='check')"
        else:
            fix = (
                f"op.drop_constraint({change['name']!r}, {change['table']!r}, type_='check'); "
                f"op.create_check_constraint({change['name']!r}, {change['table']!r}, "
                f"{change['model_sql']!r})"
            )
        findings.append(
            Finding(
                rule="check-constraint-change",
                severity="warning",
                table=change["table"],
                message=f"CHECK constraint {change['name']} on {change['table']} was {change['change']} in "
                f"the models "
                "(database: " + repr(change.get("database_sql")) + "); autogenerate does not detect it.",
                why="The database keeps enforcing the old rule (or none).",
                fix=f"Add to the migration: {fix}  (on SQLite inside op.batch_alter_table).",
            )
        )
    return findings


def _server_default_findings(facts: dict[str, Any], env: str) -> list[Finding]:
    """server_default changes env.py does not compare."""
    findings: list[Finding] = []
    for change in facts.get("server_default_changes") or []:
        new = change["model_default"]
        findings.append(
            Finding(
                rule="server-default-change",
                severity="warning",
                table=change["table"],
                column=change["column"],
                message=f"server_default of {change['table']}.{change['column']} is {new!r} in the models "
                f"and "
                f"{change['database_default']!r} in the database; not in the migration because env.py "
                "does not set compare_server_default=True.",
                why="Rows inserted without the column get the old default.",
                fix=f"op.alter_column({change['table']!r}, {change['column']!r}, server_default="
                f"{('sa.text(' + repr(new) + ')') if new is not None else 'None'})  "
                f"(or set compare_server_default=True in {env}'s context.configure).",
            )
        )
    return findings


def _object_findings(facts: dict[str, Any]) -> list[Finding]:
    """Views, functions and triggers the migrations built, which autogenerate never compares."""
    findings: list[Finding] = []
    objects = facts.get("database_objects") or {}
    present = {k: v for k, v in objects.items() if v}
    if present:
        listing = "; ".join(f"{k}: {', '.join(v[:10])}" for k, v in present.items())
        findings.append(
            Finding(
                rule="objects-not-compared",
                severity="info",
                message=f"The database built by the migrations has {listing}; autogenerate never compares these.",
                why="If you changed their definition in code, the migration does not contain it.",
                fix='Write them by hand: op.execute("CREATE OR REPLACE VIEW|FUNCTION ...") in upgrade() and '
                "the "
                "previous definition in downgrade(); triggers: DROP TRIGGER IF EXISTS then CREATE TRIGGER.",
            )
        )
    return findings


def _naming_findings(facts: dict[str, Any], relative: Callable[[str], str] | None = None) -> list[Finding]:
    """No naming convention: constraints get names the database chooses (one wording: tools/core/naming.py)."""
    if facts.get("naming_convention") is not False:
        return []
    home = facts.get("metadata_home")
    missing = facts.get("naming_missing") or ["uq", "fk", "ck", "pk"]
    return [naming_convention_finding(missing, relative(home) if home and relative else home, None)]


def _sqlite_batch_findings(facts: dict[str, Any], operations: list[DetectedOperation], env: str) -> list[Finding]:
    """SQLite without batch mode."""
    findings: list[Finding] = []
    if facts.get("dialect") == "sqlite" and not facts.get("render_as_batch"):
        needs = sorted({o.op for o in operations if o.op in SQLITE_NEEDS_BATCH})
        findings.append(
            Finding(
                rule="sqlite-batch-mode",
                severity="error" if needs else "warning",
                file=env,
                message="env.py does not set render_as_batch=True for SQLite"
                + (
                    f", and this migration uses {', '.join(needs)}, which SQLite's ALTER TABLE cannot run."
                    if needs
                    else "; later column changes will fail on SQLite."
                ),
                why="SQLite only supports ADD/RENAME COLUMN; Alembic's batch mode recreates the table instead.",
                fix=f"In {env}: context.configure(..., render_as_batch=connection.dialect.name == 'sqlite'), "
                "then delete the generated file and call generate_migration again.",
            )
        )
    return findings


def _general_blind_spots() -> list[Finding]:
    """What autogenerate never detects, with the hand-written operation for each."""
    findings: list[Finding] = []
    findings.append(
        Finding(
            rule="autogenerate-blind-spots",
            severity="info",
            message="Autogenerate does not detect: PostgreSQL enum value changes, CHECK constraint changes "
            "on "
            "existing tables, server_default changes (unless compare_server_default=True), views, "
            "functions, triggers, and renames (seen as drop + add).",
            fix="Enum: ALTER TYPE name ADD VALUE 'v' inside op.get_context().autocommit_block(); CHECK: "
            "op.create_check_constraint / op.drop_constraint(type_='check'); default: op.alter_column(t, c, "
            "server_default=...); views/functions/triggers: op.execute('CREATE OR REPLACE ...') with the old "
            "definition in downgrade(); rename: op.alter_column(t, old, new_column_name=new) / "
            "op.rename_table.",
        )
    )
    return findings


# --- probable renames ---------------------------------------------------------------------------------


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _type_changes(drop: DetectedOperation, add: DetectedOperation) -> bool:
    """The added column is not the dropped one renamed: another type, or it now references a table."""
    old, new = drop.detail.get("type"), add.detail.get("type")
    return (old is not None and new is not None and old != new) or bool(add.detail.get("foreign_keys"))


def _lookup_sql(table: str, new: str | None, old: str | None, refs: str) -> str:
    """The lookup UPDATE, naming the parent when the new column references one (rotations.id)."""
    parent, _, key = refs.split(", ")[0].rpartition(".") if "." in refs else ("<parent table>", "", "id")
    return f"UPDATE {table} SET {new} = p.{key} FROM {parent} p WHERE p.<column matching {old}> = {table}.{old}"


def _column_rename_finding(
    table: str, drop: DetectedOperation, add: DetectedOperation, dialect: str | None, file: str | None
) -> Finding:
    message = (
        f"{table}.{drop.column} is dropped and {table}.{add.column} added "
        f"({drop.detail.get('type') or '?'} -> {add.detail.get('type') or '?'})"
    )
    if _type_changes(drop, add):
        refs = ", ".join(add.detail.get("foreign_keys") or [])
        return Finding(
            rule="probable-rename",
            severity="warning",
            file=file,
            table=table,
            column=drop.column,
            message=message + (f", referencing {refs}" if refs else "") + ": the values of the old column "
            "cannot simply be renamed into the new one. Two options; a human picks one.",
            why="As written the migration deletes every value of the old column and adds an empty one; a plain "
            "rename would instead put the old values (of another type) into the new column.",
            fix=f"Option 1, keep the data (a lookup backfill): add {add.column} nullable, fill it from the old "
            f"values ({_lookup_sql(table, add.column, drop.column, refs)}), check the rows left NULL, then set "
            f"NOT NULL; dropping {drop.column} is then a human's decision (drop-column-with-data), with a backup. "
            "Option 2, the old values are not needed: keep the drop and add, "
            "and confirm the loss of the old column with a human.",
        )
    up = (
        f"with op.batch_alter_table({table!r}) as batch_op:\n    batch_op.alter_column("
        f"{drop.column!r}, new_column_name={add.column!r})"
        if dialect == "sqlite"
        else f"op.alter_column({table!r}, {drop.column!r}, new_column_name={add.column!r})"
    )
    return Finding(
        rule="probable-rename",
        severity="error",
        file=file,
        table=table,
        column=drop.column,
        message=message + ": probably a rename, which autogenerate cannot detect.",
        why="As written the migration deletes every value of the old column and adds an empty one.",
        fix=f"If it is a rename, replace the drop_column/add_column pair in upgrade() with:\n{up}\n"
        f"and in downgrade() the reverse (new_column_name={drop.column!r}). If the drop is intended, keep it "
        "and confirm with a human.",
    )


def _rename_candidates(
    drop: DetectedOperation, adds: list[DetectedOperation], used: set[int], only_pair: bool
) -> list[tuple[int, float]]:
    """(index, name similarity) of the added columns that could be the dropped one renamed, best first."""
    found = []
    for index, add in enumerate(adds):
        if index in used:
            continue
        same_type = drop.detail.get("type") is not None and drop.detail.get("type") == add.detail.get("type")
        score = _similar(drop.column or "", add.column or "")
        if score >= 0.8 or (same_type and (score >= 0.4 or only_pair)):
            found.append((index, score, score + same_type))
    return [(index, score) for index, score, _ in sorted(found, key=lambda item: -item[2])]


def _column_split_finding(table: str, drop: DetectedOperation, adds: list[DetectedOperation], file: str | None):
    new = ", ".join(f"{table}.{add.column}" for add in adds)
    return Finding(
        rule="probable-rename",
        severity="warning",
        file=file,
        table=table,
        column=drop.column,
        message=f"{table}.{drop.column} is dropped while {new} are added: if their values come from "
        f"{drop.column} (a split), the migration must fill them from it before the drop; a rename into one "
        "of them would not.",
        why="As written the migration deletes every value of the old column and adds empty ones.",
        fix=f"Add {', '.join(a.column or '?' for a in adds)} nullable, fill them from {drop.column} with one "
        f"UPDATE {table} SET ... (the split rule is the application's: ask if it is not given), check the "
        f"rows left NULL, then set NOT NULL; dropping {drop.column} stays a human's decision "
        "(drop-column-with-data), with a backup.",
    )


def rename_findings(operations: list[DetectedOperation], dialect: str | None, file: str | None) -> list[Finding]:
    findings: list[Finding] = []
    by_table: dict[str, tuple[list[DetectedOperation], list[DetectedOperation]]] = {}
    for o in operations:
        if o.op in ("drop_column", "add_column") and o.table:
            pair = by_table.setdefault(o.table, ([], []))
            pair[0 if o.op == "drop_column" else 1].append(o)
    for table, (drops, adds) in by_table.items():
        used: set[int] = set()
        for drop in drops:
            candidates = _rename_candidates(drop, adds, used, len(drops) == 1 and len(adds) == 1)
            if not candidates:
                continue
            if len(candidates) > 1 and candidates[0][1] < 0.8:
                # several new columns as much like the old one (name -> first_name, last_name): a split,
                # not a rename; renaming into one of them would put every whole value there
                used.update(index for index, _ in candidates)
                findings.append(_column_split_finding(table, drop, [adds[i] for i, _ in sorted(candidates)], file))
                continue
            used.add(candidates[0][0])
            findings.append(_column_rename_finding(table, drop, adds[candidates[0][0]], dialect, file))
    dropped = [o for o in operations if o.op == "drop_table"]
    created = [o for o in operations if o.op == "create_table"]
    for drop in dropped:
        old_cols = set(drop.detail.get("columns") or [])
        for create in created:
            new_cols = set(create.detail.get("columns") or [])
            overlap = len(old_cols & new_cols) / len(old_cols | new_cols) if old_cols | new_cols else 0.0
            if overlap >= 0.6 or (overlap >= 0.4 and _similar(drop.table or "", create.table or "") >= 0.6):
                findings.append(
                    Finding(
                        rule="probable-rename",
                        severity="error",
                        file=file,
                        table=drop.table,
                        message=f"Table {drop.table} is dropped and {create.table} created with "
                        f"{len(old_cols & new_cols)} of the same columns: probably a rename.",
                        why="As written the migration deletes every row of the old table.",
                        fix=f"Replace the drop_table/create_table pair with op.rename_table({drop.table!r}, "
                        f"{create.table!r}) (downgrade: op.rename_table({create.table!r}, {drop.table!r})), "
                        "plus any column changes; if the drop is intended, confirm with a human.",
                    )
                )
                break
    return findings
