"""The words of a failed step's finding: title, why and recovery, per failure mode.

The worker names the mode and gathers the facts (``worker/ops/failure_probes.py``); this turns them
into what an agent reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Failure:
    """One failed step as the words need it: the worker's facts and where the step was."""

    mode: str
    facts: dict[str, Any]
    phase: str
    revision: str
    backend: str
    error: str = ""

    @property
    def table(self) -> str:
        return self.facts.get("table") or "the table"

    @property
    def column(self) -> str:
        return self.facts.get("column") or "the column"


def explain(
    mode: str, facts: dict[str, Any], phase: str, revision: str, backend: str, error: str = ""
) -> dict[str, str]:
    """``{"title", "why", "fix"}`` for a finding about this failure."""
    words = _WORDS.get(mode, _unknown)
    return words(_Failure(mode, facts, phase, revision, backend, error))


def _violators(facts: dict[str, Any]) -> str:
    """``"; violating rows (id): 3, 7"`` from the facts read at the failing statement, or ''."""
    keys = facts.get("violating_keys") or []
    if not keys:
        return ""
    count = facts.get("violating_rows", len(keys))
    shown = ", ".join("/".join(k) for k in keys)
    more = f" and {count - len(keys)} more" if count > len(keys) else ""
    return f"; the {count} violating row(s) by {'/'.join(facts.get('key_columns') or ['key'])}: {shown}{more}"


def _not_null(failure: _Failure) -> dict[str, str]:
    facts, table, column = failure.facts, failure.table, failure.column
    rows = facts.get("rows")
    nulls = facts.get("violating_rows", facts.get("null_rows"))
    if facts.get("operation") == "AlterColumnOp" and nulls is not None:
        seen = f"{nulls} row(s) of {table} are still NULL in {column} when it is made NOT NULL"
    else:
        seen = (f"{table} has {rows} existing row(s)" if rows is not None else f"{table} has existing rows") + (
            f", {nulls} of them NULL in {column}" if nulls is not None else ""
        )
    if facts.get("operation") == "AlterColumnOp":
        return {
            "title": f"NOT NULL violation: {seen}{_violators(facts)}",
            "why": "The backfill before it left these rows without a value (e.g. an UPDATE ... FROM found no match).",
            "fix": (
                f"Decide with a human what these rows should hold, then give it to them in the migration before "
                f"op.alter_column('{table}', '{column}', nullable=False): fix the data they should match, or, "
                f"only when one value is right for every one of them, UPDATE {table} SET {column} = <that value> "
                f"WHERE {column} IS NULL. A key to another table is never one constant for all: it would point "
                "every row at the same parent."
            ),
        }
    return {
        "title": f"NOT NULL violation on existing rows: {seen}{_violators(facts)}",
        "why": "A NOT NULL column without a value for the existing rows cannot be added or enforced.",
        "fix": (
            f"Split it: (1) op.add_column('{table}', sa.Column('{column}', ..., nullable=True)); "
            f'(2) backfill: op.execute("UPDATE {table} SET {column} = <value> WHERE {column} IS NULL") (a key '
            "to another table: a lookup of the parent row, UPDATE ... FROM parent WHERE ..., never a constant); "
            f"(3) op.alter_column('{table}', '{column}', nullable=False). Or give it a server_default."
        ),
    }


def _foreign_key(failure: _Failure) -> dict[str, str]:
    facts, table = failure.facts, failure.table
    orphans = facts.get("orphan_rows")
    sample = ", ".join("/".join(s["key"]) for s in facts.get("sample_orphans", []))
    cols = ", ".join(facts.get("columns") or []) or "the column"
    parent = facts.get("referred_table") or "the parent table"
    seen = (
        f"{orphans} row(s) of {table} point at missing {parent} rows"
        + (f" ({'/'.join(facts.get('sample_key_columns') or [])} {sample})" if sample else "")
        if orphans is not None
        else f"rows of {table} point at missing {parent} rows"
    )
    return {
        "title": f"Foreign-key violation: {seen}{_violators(facts)}",
        "why": "The constraint cannot be created while orphan rows exist.",
        "fix": (
            f"Before creating the constraint, fix the orphans in the migration: delete them "
            f"(DELETE FROM {table} WHERE {cols} NOT IN (SELECT id FROM {parent})), set them NULL, "
            f"or insert the missing parents; decide which with a human if the rows matter."
        ),
    }


def _unique(failure: _Failure) -> dict[str, str]:
    facts, table = failure.facts, failure.table
    groups = facts.get("duplicate_groups")
    sample = "; ".join(f"{'/'.join(s['value'])} x{s['rows']}" for s in facts.get("sample_duplicates", []))
    cols = ", ".join(c for c in (facts.get("columns") or []) if isinstance(c, str)) or "the columns"
    return {
        "title": (
            f"Duplicate values for a unique constraint on {table}({cols})"
            + (f": {groups} duplicated value(s), e.g. {sample}" if groups is not None else "")
            + _violators(facts)
        ),
        "why": "A unique constraint or index cannot be built while duplicates exist.",
        "fix": (
            f"De-duplicate in the migration before the constraint (keep one row per {cols} and "
            "repoint references), or make the constraint partial/non-unique; a human decides which "
            "rows win."
        ),
    }


def _type_mismatch(failure: _Failure) -> dict[str, str]:
    facts, table, column, backend = failure.facts, failure.table, failure.column, failure.backend
    if facts.get("expression_type"):
        given = f" (column of type {facts.get('column_type')}, given {facts['expression_type']})"
        return {
            "title": f"Type mismatch writing {table}.{column}{given}",
            "why": "The statement writes a value of another type and the database does not convert it implicitly.",
            "fix": f"Cast the value to the column's type in the statement (e.g. CAST(:value AS "
            f"{facts.get('column_type')}) or a bind parameter typed like the column).",
        }
    if "cannot be cast automatically" in failure.error:
        return _needs_using(failure)
    refused = _refused(facts)
    using = f"postgresql_using='{column}::<type>'" if backend == "postgresql" else "a conversion UPDATE first"
    sample = ", ".join(facts.get("sample_values", [])[:5])
    seen = refused or (f" (values such as {sample})" if sample else "")
    return {
        "title": f"Type mismatch converting {table}.{column}{seen}",
        "why": "The existing values cannot be converted to the new type as they are.",
        "fix": (
            f"Decide with a human what the refused values become, then convert them in the migration before "
            f"or in the conversion (an UPDATE of those rows, or a CASE in the USING: op.alter_column('{table}', "
            f"'{column}', type_=..., {using})); or add a new column, copy converted values, then swap."
        ),
    }


def _refused(facts: dict[str, Any]) -> str:
    """``: values refused 'Resident' x2 (id 7, 13), 'attending' x1 (id 21); the list is complete``, or ''."""
    refused = facts.get("failing_values")
    if not refused:
        return ""
    key = "/".join(facts.get("key_columns") or ["key"])
    listed = ", ".join(_refused_value(entry, key) for entry in refused)
    complete = (
        "; the list is complete"
        if facts.get("failing_values_complete")
        else f"; more may fail (the {facts.get('distinct_values_checked')} most frequent distinct values were tried)"
    )
    return f": {facts.get('violating_rows')} row(s) hold values the conversion refuses: {listed}{complete}"


def _refused_value(entry: dict[str, Any], key: str) -> str:
    """``'Resident' x2 (id 7, 13)``; `` ...`` when more rows hold it than keys are listed."""
    keys = ", ".join("/".join(k) for k in entry.get("keys") or [])
    more = " ..." if keys and entry["rows"] > len(entry["keys"]) else ""
    return f"{entry['value']!r} x{entry['rows']}" + (f" ({key} {keys}{more})" if keys else "")


def _needs_using(failure: _Failure) -> dict[str, str]:
    facts, table, column = failure.facts, failure.table, failure.column
    target = facts.get("type_sql") or (failure.facts.get("new_type") or "<new type>")
    return {
        "title": f"PostgreSQL refuses: column {table}.{column} cannot be cast automatically to {target}"
        + _refused(facts),
        "why": "There is no implicit or assignment cast from the old type to the new one (varchar to an enum, "
        "text to integer...): ALTER ... TYPE needs USING.",
        "fix": (
            f"Give the conversion: op.alter_column('{table}', '{column}', ..., postgresql_using='{column}::{target}'); "
            "values it cannot convert still fail: map them first (review_migration with fix=true writes the USING)."
        ),
    }


def _object_state(failure: _Failure) -> dict[str, str]:
    facts, mode, phase = failure.facts, failure.mode, failure.phase
    what = facts.get("object") or "an object"
    verb = "already exists" if mode == "object-already-exists" else "does not exist"
    where = (
        "downgrade() does not match its upgrade()"
        if phase == "downgrade"
        else (
            "the previous downgrade left it behind"
            if phase == "re-upgrade" and mode == "object-already-exists"
            else "upgrade() assumes a schema this database does not have"
        )
    )
    if phase == "re-upgrade" and facts.get("downgrade_empty"):
        return {
            "title": f"{what} {verb}: downgrade() is empty, it undid nothing of what upgrade() did",
            "why": "Upgrading again after that downgrade meets the objects the first upgrade made.",
            "fix": "Write downgrade() as the inverse of upgrade(); if the revision is one-way on purpose, make "
            "downgrade() raise with the reason instead of passing (a human accepts a one-way revision).",
        }
    if mode == "object-does-not-exist" and phase == "upgrade":  # in a re-upgrade, the downgrade dropped it
        return _used_before_created(failure, what)
    return {
        "title": f"{what} {verb} ({where})",
        "why": "The migration names an object that is not in the state the step expects.",
        "fix": (
            "Make downgrade() undo exactly what upgrade() does, in reverse order and with the same names "
            "(use op.f() names or the naming convention); check with test_roundtrip again."
        ),
    }


_MISSING_TYPE = re.compile(r'type "([^"]+)" does not exist')


def _used_before_created(failure: _Failure, what: str) -> dict[str, str]:
    """An upgrade that needs an object nothing created yet: create it first (a type: before the column uses it)."""
    missing_type = _MISSING_TYPE.search(failure.error)
    if missing_type:
        name = missing_type.group(1)
        return {
            "title": f"upgrade() uses type {name} before anything creates it",
            "why": "alter_column(type_=sa.Enum(...)) and add_column do not create a PostgreSQL enum type; "
            "the ALTER fails while the type does not exist.",
            "fix": (
                f"Create the type first in upgrade(): sa.Enum(<its values>, name='{name}').create(op.get_bind(), "
                "checkfirst=True) (or postgresql.ENUM(...).create) before the alter_column, and convert the column "
                f"with postgresql_using='<column>::{name}'; in downgrade(), after the column is altered back, "
                f"op.execute('DROP TYPE IF EXISTS {name}'). review_migration with fix=true writes these."
            ),
        }
    return {
        "title": f"upgrade() uses {what} before anything creates it",
        "why": "No earlier step of this revision or of the revisions before it created the object under that "
        "name at this point of the history.",
        "fix": (
            f"Create {what} earlier in upgrade() (or in an earlier revision) before the statement that uses it, "
            "or use the name it was created with (op.f() names or the naming convention)."
        ),
    }


def _still_referenced(failure: _Failure) -> dict[str, str]:
    facts = failure.facts
    what = facts.get("object") or "an object"
    return {
        "title": f"{what} cannot be dropped while something still depends on it (a foreign key or view)",
        "why": "The step drops objects in the wrong order: dependents must go first.",
        "fix": (
            "Drop the dependent foreign key / view before the object it needs, i.e. undo upgrade() in "
            "exact reverse order (op.drop_constraint(<fk>, <table>, type_='foreignkey') first)."
        ),
    }


def _check(failure: _Failure) -> dict[str, str]:
    facts, table = failure.facts, failure.table
    condition = facts.get("condition") or "its condition"
    return {
        "title": f"CHECK constraint violated by existing rows of {table} ({condition}){_violators(facts)}",
        "why": "A CHECK constraint cannot be created (or a row written) while rows break its condition.",
        "fix": (
            "Fix the rows in the migration before the constraint, or create it NOT VALID "
            "(postgresql_not_valid=True) and VALIDATE it once the data is clean; a human decides what the rows hold."
        ),
    }


def _deliberate(failure: _Failure) -> dict[str, str]:
    message = failure.error.splitlines()[0][:300] if failure.error else "an exception"
    return {
        "title": f"the migration raises on purpose: {message}",
        "why": "The revision refuses to run in this direction by design.",
        "fix": "If it is meant to be one-way, a human accepts it; otherwise write the step it refuses.",
    }


def _code_error(failure: _Failure) -> dict[str, str]:
    message = failure.error.splitlines()[0][:300] if failure.error else "an exception"
    return {
        "title": f"the migration's own code raised: {message}",
        "why": "Python in the step (a data migration reading rows, a helper it calls) failed; the database "
        "refused nothing.",
        "fix": "Read the error at the line given and make the code handle the rows and schema it meets at this "
        "point of the history (e.g. NULL or malformed values), then call test_roundtrip again.",
    }


def _swallowed(failure: _Failure) -> dict[str, str]:
    return {
        "title": "the migration caught a database error and went on, but PostgreSQL had aborted the transaction, "
        "so the next statement failed",
        "why": "A try/except around an op.* call does not undo the failed statement: on PostgreSQL every later "
        "statement of the transaction fails until it is rolled back (the error it caught is in `error`).",
        "fix": "Do not swallow errors of schema operations: check first (inspect the table for the object) or "
        "run the uncertain statement inside a savepoint (with op.get_bind().begin_nested(): ...).",
    }


def _unnamed(failure: _Failure) -> dict[str, str]:
    return {
        "title": "a constraint without a name cannot be dropped (drop_constraint(None, ...))",
        "why": "DROP CONSTRAINT needs the constraint's name; None is what autogenerate writes for "
        "constraints created without one.",
        "fix": (
            "Give the constraint its real name in drop_constraint (look it up in the database, e.g. PostgreSQL "
            "names it <table>_<column>_fkey / _key), and name constraints at creation (a naming convention "
            "on the MetaData)."
        ),
    }


def _defined_twice(failure: _Failure) -> dict[str, str]:
    what = failure.facts.get("object") or "an object"
    return {
        "title": f"the migration defines {what} twice (e.g. create_table with the same column twice)",
        "why": "A table, column or index can be declared once per statement.",
        "fix": "Remove the repeated definition so each column appears once (compare with the upgrade it undoes).",
    }


def _drop_missing(failure: _Failure) -> dict[str, str]:
    what = failure.facts.get("object") or "an object"
    return {
        "title": f"{what} is dropped but does not exist at that point of the history",
        "why": "No earlier step created it under that name (a wrong name, or a drop of what another "
        "revision already dropped).",
        "fix": (
            "Drop the object under the name it was created with (op.f() names or the naming convention), "
            "or remove the drop if nothing creates it."
        ),
    }


def _unknown(failure: _Failure) -> dict[str, str]:
    return {
        "title": "The step failed for a reason that matches no known failure mode",
        "why": "A human must read the error before the migration is changed or run anywhere else.",
        "fix": "Show the error and the revision to a human.",
    }


_WORDS: dict[str, Callable[[_Failure], dict[str, str]]] = {
    "not-null-violation": _not_null,
    "foreign-key-violation": _foreign_key,
    "unique-violation": _unique,
    "type-mismatch": _type_mismatch,
    "object-already-exists": _object_state,
    "object-does-not-exist": _object_state,
    "object-still-referenced": _still_referenced,
    "check-violation": _check,
    "deliberate-raise": _deliberate,
    "migration-code-error": _code_error,
    "swallowed-error": _swallowed,
    "unnamed-constraint": _unnamed,
    "defined-twice": _defined_twice,
    "drop-of-missing-object": _drop_missing,
}
