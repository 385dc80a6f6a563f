"""The ``bootstrap`` setting: prepare a fresh scratch database before the base revision runs.

Histories that do not start from an empty database (the project runs ``create_all`` and stamps
before its first migration) need that starting schema. The setting is either ``module:function``
(imported with the project on sys.path, called with a SQLAlchemy connection; its transaction is
committed afterwards) or the path of a .sql file, relative to the project.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from alembic_mcp.tools.worker.ops.sa_compat import with_sync_connection


def apply_starting_schema(url: str, setting: str, project_dir: str) -> dict[str, Any]:
    """Run the bootstrap on the database at ``url``; what ran, for the report."""
    if setting.lower().endswith(".sql"):
        path = Path(setting) if Path(setting).is_absolute() else Path(project_dir) / setting
        sql = path.read_text(encoding="utf-8")
        with_sync_connection(url, lambda conn: _run_script(conn, sql))
        return {"kind": "sql", "source": str(path)}
    module_name, _, function_name = setting.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    with_sync_connection(url, lambda conn: _call(conn, function))
    return {"kind": "callable", "source": setting}


def _call(conn: Any, function: Any) -> None:
    function(conn)
    if conn.in_transaction():
        conn.commit()


def _run_script(conn: Any, sql: str) -> None:
    """A whole SQL script: SQLite through ``executescript``, others as one multi-statement call or split."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection
        (getattr(raw, "driver_connection", None) or raw.connection).executescript(sql)
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(sql)
    else:  # drivers that take one statement per call (MySQL, MariaDB)
        for statement in _statements(sql):
            conn.exec_driver_sql(statement)
    if conn.in_transaction():
        conn.commit()


def _statements(sql: str) -> list[str]:
    """Statements ended by ``;`` at the end of a line (enough for schema dumps)."""
    out, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(current).strip().rstrip(";").strip()
            if statement:
                out.append(statement)
            current = []
    rest = "\n".join(current).strip()
    return out + ([rest] if rest else [])
