"""Facts autogenerate does not compare, read from the connection autogenerate just used (inside the
worker): PostgreSQL enum values, named CHECK constraints, server defaults (when env.py does not ask
for them), and the views, functions and triggers present in the database.
"""

from __future__ import annotations

import re
from typing import Any


def enum_changes(connection, metadatas, opts, created) -> list[dict[str, Any]]:
    """PostgreSQL native enums whose values in the models differ from the database's."""
    if connection.dialect.name != "postgresql":
        return []
    from sqlalchemy import Enum

    model: dict[str, list[str]] = {}
    for md in metadatas:
        for table in md.tables.values():
            for column in table.columns:
                type_ = column.type
                if isinstance(type_, Enum) and type_.native_enum and type_.name:
                    model[type_.name] = list(type_.enums)
    if not model:
        return []
    rows = connection.exec_driver_sql(
        "SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = current_schema() "
        "ORDER BY t.typname, e.enumsortorder"
    ).fetchall()
    database: dict[str, list[str]] = {}
    for name, label in rows:
        database.setdefault(name, []).append(label)
    changes = []
    for name, values in sorted(model.items()):
        if name in database and database[name] != values:
            changes.append(
                {
                    "enum": name,
                    "database_values": database[name],
                    "model_values": values,
                    "added": [v for v in values if v not in database[name]],
                    "removed": [v for v in database[name] if v not in values],
                }
            )
    return changes


def _norm_sql(text: str) -> str:
    return re.sub(r"[\s()\"'`]|::[a-z ]+", "", text.lower())


def check_changes(connection, metadatas, opts, created) -> list[dict[str, Any]]:
    """Named CHECK constraints added, removed or changed on tables that already exist."""
    from sqlalchemy import CheckConstraint, inspect

    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    changes = []
    for md in metadatas:
        for table in md.tables.values():
            if table.name not in existing or table.name in created or table.schema:
                continue
            model = {}
            for constraint in table.constraints:
                if (
                    isinstance(constraint, CheckConstraint)
                    and constraint.name
                    and type(constraint.name).__name__ != "_NoneName"
                ):
                    model[str(constraint.name)] = str(
                        constraint.sqltext.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
                    )
            try:
                reflected = {
                    c["name"]: c.get("sqltext", "")
                    for c in inspector.get_check_constraints(table.name)
                    if c.get("name")
                }
            except NotImplementedError:
                continue
            for name, text in sorted(model.items()):
                if name not in reflected:
                    changes.append({"table": table.name, "name": name, "change": "added", "model_sql": text})
                elif _norm_sql(text) != _norm_sql(reflected[name]):
                    changes.append(
                        {
                            "table": table.name,
                            "name": name,
                            "change": "changed",
                            "model_sql": text,
                            "database_sql": reflected[name],
                        }
                    )
            for name, text in sorted(reflected.items()):
                if name not in model:
                    changes.append({"table": table.name, "name": name, "change": "removed", "database_sql": text})
    return changes


def server_default_changes(connection, metadatas, opts, created) -> list[dict[str, Any]]:
    """server_default differences, when env.py does not ask autogenerate to compare them."""
    if opts.get("compare_server_default") or len(metadatas) != 1:
        return []
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context_opts = {"compare_server_default": True, "compare_type": False, "target_metadata": metadatas[0]}
    for key in ("include_object", "include_name", "include_schemas", "version_table", "version_table_schema"):
        if opts.get(key) is not None:
            context_opts[key] = opts[key]
    migration_context = MigrationContext.configure(connection=connection, opts=context_opts)
    changes = []
    for diff in compare_metadata(migration_context, metadatas[0]):
        entries = diff if isinstance(diff, list) else [diff]
        for entry in entries:
            if entry and entry[0] == "modify_default":
                _, _schema, table, column, _existing, old, new = entry
                changes.append(
                    {
                        "table": table,
                        "column": column,
                        "database_default": _default_text(old),
                        "model_default": _default_text(new),
                    }
                )
    return changes


def _default_text(value: Any) -> str | None:
    if value is None:
        return None
    arg = getattr(value, "arg", value)
    return str(getattr(arg, "text", arg))


def database_objects(connection, metadatas, opts, created) -> dict[str, list[str]]:
    """Views, functions and triggers present in the database: autogenerate never compares them."""
    from sqlalchemy import inspect

    out: dict[str, list[str]] = {
        "views": sorted(inspect(connection).get_view_names()),
        "functions": [],
        "triggers": [],
    }
    name = connection.dialect.name
    if name == "postgresql":
        out["functions"] = [
            r[0]
            for r in connection.exec_driver_sql(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                "WHERE d.objid = p.oid AND d.deptype = 'e') ORDER BY 1"
            )
        ]
        out["triggers"] = [
            f"{r[0]} ON {r[1]}"
            for r in connection.exec_driver_sql(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal "
                "AND n.nspname = current_schema() ORDER BY 1"
            )
        ]
    elif name == "sqlite":
        out["triggers"] = [
            f"{r[0]} ON {r[1]}"
            for r in connection.exec_driver_sql(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1"
            )
        ]
    elif name in ("mysql", "mariadb"):
        out["functions"] = [
            r[0]
            for r in connection.exec_driver_sql(
                "SELECT routine_name FROM information_schema.routines WHERE routine_schema = database() ORDER BY 1"
            )
        ]
        out["triggers"] = [
            f"{r[0]} ON {r[1]}"
            for r in connection.exec_driver_sql(
                "SELECT trigger_name, event_object_table FROM information_schema.triggers "
                "WHERE trigger_schema = database() ORDER BY 1"
            )
        ]
    return out
