"""Inside the worker: where a failed step failed, and the failure modes only the migration shows.

The site is the innermost traceback frame inside the migration files (the versions directories), not
SQLAlchemy's or the driver's. Beyond the database's error code (``failure_probes.classify``) a
failure can be: a deliberate ``raise`` in the migration (a one-way revision by design), an error of
the migration's own Python code, a database error the migration caught and went on from (PostgreSQL's
aborted transaction), a constraint without a name that cannot be dropped, an object the migration
defines twice, or a drop of an object that is not there.
"""

from __future__ import annotations

import os
import re
import traceback
from typing import Any

from sqlalchemy import exc as sa_exc

_UNNAMED = re.compile(r"(it has no name|must have a name|Can't emit DROP CONSTRAINT)", re.IGNORECASE)
_TWICE = re.compile(
    r"(specified more than once|is already present in table|Duplicate column name|duplicate column name)",
    re.IGNORECASE,
)
_DEFINING_OPS = ("CreateTableOp",)
# PostgreSQL after an error inside a transaction: every later statement fails until it is rolled back
_ABORTED = re.compile(r"(InFailedSqlTransaction|current transaction is aborted)", re.IGNORECASE)


def versions_dirs(script: Any) -> tuple[str, ...]:
    """The absolute version locations of the script directory (with a trailing separator)."""
    return tuple(os.path.join(os.path.abspath(p), "") for p in script._version_locations)


def migration_frame(exc: BaseException, dirs: tuple[str, ...]) -> tuple[str, int] | None:
    """(file, line) of the innermost frame inside ``dirs``, if any."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename).startswith(dirs):
            return frame.filename, int(frame.lineno or 0)
    return None


def calling_migration_frame(dirs: tuple[str, ...]) -> tuple[str, int] | None:
    """(file, line) of the innermost frame inside ``dirs`` on the current call stack (an operation's
    caller, while the operation is still running)."""
    for frame in reversed(traceback.extract_stack()):
        if os.path.abspath(frame.filename).startswith(dirs):
            return frame.filename, int(frame.lineno or 0)
    return None


def raised_by_migration(exc: BaseException, dirs: tuple[str, ...]) -> bool:
    """The migration raised on purpose: its innermost frame is a ``raise`` statement in a migration
    file (an AttributeError or TypeError of its code is not a choice)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames or isinstance(exc, sa_exc.SQLAlchemyError):
        return False
    innermost = frames[-1]
    return os.path.abspath(innermost.filename).startswith(dirs) and (innermost.line or "").lstrip().startswith("raise")


def failed_in_migration_code(exc: BaseException, dirs: tuple[str, ...]) -> bool:
    """The migration's own Python failed (reading rows, json.loads, a helper it calls), not the database."""
    return not isinstance(exc, sa_exc.SQLAlchemyError) and migration_frame(exc, dirs) is not None


def refine_mode(
    mode: str,
    exc: BaseException,
    message: str,
    failed_op: dict[str, Any] | None,
    deliberate: bool,
    code_error: bool = False,
) -> str:
    """The failure mode once the migration's side is known."""
    op_name = (failed_op or {}).get("op", "")
    if mode == "unknown" and _ABORTED.search(message):
        return "swallowed-error"  # an earlier statement of the step failed and the migration went on
    if isinstance(exc, sa_exc.CompileError) and _UNNAMED.search(message):
        return "unnamed-constraint"
    if _TWICE.search(message) and (op_name in _DEFINING_OPS or isinstance(exc, sa_exc.ArgumentError)):
        return "defined-twice"
    if mode == "object-does-not-exist" and op_name.startswith("Drop"):
        return "drop-of-missing-object"
    if deliberate and failed_op is None:
        return "deliberate-raise"
    if code_error and failed_op is None and mode == "unknown":
        return "migration-code-error"
    return mode
