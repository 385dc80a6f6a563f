"""Normalised schema snapshots via SQLAlchemy's Inspector, and readable differences between two.

A snapshot is plain JSON: ``{"tables": {name: {...}}, "enums": {...}, "sequences": [...], "views": {...}}``.
Each table holds its columns (type, nullability, default, comment, computed), primary key, foreign
keys, indexes, unique and check constraints, keyed by name (or a stable description when unnamed),
so two snapshots of the same database compare with ``==`` and ``diff_snapshots`` gives sentences like
"index ix_persons_email missing after downgrade". The Alembic version table is left out.

``take_snapshot(conn, previous=..., tables=...)`` re-reflects only ``tables`` and reuses the rest
from ``previous``; database-wide objects (table list, enums, sequences, views) are always re-read.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

Snapshot = dict[str, Any]
_SPACE = re.compile(r"\s+")


def _norm_text(value: Any) -> str | None:
    if value is None:
        return None
    text = _SPACE.sub(" ", str(value)).strip()
    while len(text) >= 2 and text[0] == "(" and text[-1] == ")" and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def _type_text(col_type: Any, dialect: Any) -> str:
    try:
        return str(col_type.compile(dialect=dialect))
    except Exception:
        return repr(col_type)


def _column(col: dict[str, Any], dialect: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": _type_text(col["type"], dialect),
        "nullable": bool(col.get("nullable", True)),
        "default": _norm_text(col.get("default")),
    }
    if col.get("comment"):
        out["comment"] = col["comment"]
    if col.get("computed"):
        out["computed"] = _norm_text(col["computed"].get("sqltext"))
    if col.get("identity"):
        out["identity"] = bool(col["identity"].get("always", False))
    return out


def _fk_key(fk: dict[str, Any]) -> str:
    if fk.get("name"):
        return str(fk["name"])
    local, remote = ", ".join(fk["constrained_columns"]), ", ".join(fk["referred_columns"])
    return f"({local}) -> {fk['referred_table']}({remote})"


def _table(insp, name: str, cache: dict[str, dict[tuple, Any]], dialect: Any) -> dict[str, Any]:
    key = (None, name)
    columns = cache["columns"].get(key, [])
    pk = cache["pk"].get(key) or {}
    table: dict[str, Any] = {
        "columns": {c["name"]: _column(c, dialect) for c in columns},
        "column_order": [c["name"] for c in columns],
        "primary_key": {"name": pk.get("name"), "columns": list(pk.get("constrained_columns") or [])},
        "foreign_keys": {},
        "indexes": {},
        "unique_constraints": {},
        "check_constraints": {},
    }
    for fk in cache["fks"].get(key, []):
        options = {k: v for k, v in (fk.get("options") or {}).items() if v is not None}
        table["foreign_keys"][_fk_key(fk)] = {
            "columns": list(fk["constrained_columns"]),
            "referred_table": fk["referred_table"],
            "referred_columns": list(fk["referred_columns"]),
            "options": options,
        }
    uniques = cache["uniques"].get(key, [])
    for uc in uniques:
        table["unique_constraints"][uc.get("name") or f"unique({', '.join(uc['column_names'])})"] = {
            "columns": list(uc["column_names"])
        }
    unique_names = {uc.get("name") for uc in uniques}
    for ix in cache["indexes"].get(key, []):
        if ix.get("duplicates_constraint") or (ix.get("name") in unique_names and ix.get("unique")):
            continue  # MySQL/SQLite report a unique constraint's index as an index too
        entry: dict[str, Any] = {
            "columns": [c if c is not None else "<expression>" for c in ix["column_names"]],
            "unique": bool(ix.get("unique")),
        }
        if ix.get("expressions"):
            entry["expressions"] = [_norm_text(e) for e in ix["expressions"]]
        where = (ix.get("dialect_options") or {}).get("postgresql_where") or (
            ix.get("dialect_options") or {}
        ).get("sqlite_where")
        if where is not None:
            entry["where"] = _norm_text(where)
        table["indexes"][ix.get("name") or f"index({', '.join(entry['columns'])})"] = entry
    for ck in cache["checks"].get(key, []):
        table["check_constraints"][ck.get("name") or f"check({_norm_text(ck.get('sqltext'))})"] = {
            "sqltext": _norm_text(ck.get("sqltext"))
        }
    return table


def _multi(fn, names: list[str]) -> dict[tuple, Any]:
    try:
        return fn(filter_names=names)
    except NotImplementedError:
        return {}


def take_snapshot(
    conn: Connection,
    version_table: str = "alembic_version",
    previous: Snapshot | None = None,
    tables: set[str] | None = None,
) -> Snapshot:
    """Reflect the default schema. With ``previous`` and ``tables``, only ``tables`` (and tables
    not in ``previous``) are re-reflected; everything else is copied from ``previous``."""
    insp = inspect(conn)
    dialect = conn.dialect
    names = sorted(n for n in insp.get_table_names() if n != version_table)
    if previous is None or tables is None:
        refresh = names
    else:
        refresh = [n for n in names if n in tables or n not in previous["tables"]]
    out: Snapshot = {"tables": {}, "enums": {}, "sequences": [], "views": {}}
    cache: dict[str, dict[tuple, Any]] = {}
    if refresh:
        cache = {
            "columns": _multi(insp.get_multi_columns, refresh),
            "pk": _multi(insp.get_multi_pk_constraint, refresh),
            "fks": _multi(insp.get_multi_foreign_keys, refresh),
            "indexes": _multi(insp.get_multi_indexes, refresh),
            "uniques": _multi(insp.get_multi_unique_constraints, refresh),
            "checks": _multi(insp.get_multi_check_constraints, refresh),
        }
    refreshed = set(refresh)
    for name in names:
        out["tables"][name] = (
            _table(insp, name, cache, dialect) if name in refreshed else previous["tables"][name]
        )  # type: ignore[index]
    if dialect.name == "postgresql":
        try:
            out["enums"] = {e["name"]: list(e["labels"]) for e in insp.get_enums() if e.get("visible", True)}
        except Exception:
            out["enums"] = {}
        out["sequences"] = sorted(insp.get_sequence_names())
    for view in sorted(insp.get_view_names()):
        try:
            out["views"][view] = _norm_text(insp.get_view_definition(view))
        except Exception:
            out["views"][view] = None
    return out


# ---------------------------------------------------------------- differences


def _diff_item(
    kind: str,
    name: str,
    before: Any,
    after: Any,
    when: str,
    table: str | None,
    out: list[dict[str, Any]],
    column: str | None = None,
) -> None:
    if before == after:
        return
    if after is None:
        out.append(
            {
                "kind": kind,
                "object": name,
                "table": table,
                "column": column,
                "change": "missing",
                "message": f"{kind} {name} missing {when}",
            }
        )
    elif before is None:
        out.append(
            {
                "kind": kind,
                "object": name,
                "table": table,
                "column": column,
                "change": "unexpected",
                "message": f"{kind} {name} present {when} but not before",
            }
        )
    else:
        parts = []
        if isinstance(before, dict) and isinstance(after, dict):
            for field in sorted(set(before) | set(after)):
                if before.get(field) != after.get(field):
                    parts.append(f"{field} {_show(before.get(field))} -> {_show(after.get(field))}")
        else:
            parts.append(f"{_show(before)} -> {_show(after)}")
        out.append(
            {
                "kind": kind,
                "object": name,
                "table": table,
                "column": column,
                "change": "changed",
                "message": f"{kind} {name} differs {when}: {'; '.join(parts)}",
            }
        )


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in sorted(value.items())) + "}"
    return "none" if value is None else str(value)


def diff_snapshots(expected: Snapshot, actual: Snapshot, when: str) -> list[dict[str, Any]]:
    """Readable differences from ``expected`` to ``actual``; ``when`` ends each sentence
    ("after downgrade", "after re-upgrade")."""
    out: list[dict[str, Any]] = []
    t_exp, t_act = expected["tables"], actual["tables"]
    for name in sorted(set(t_exp) | set(t_act)):
        if name not in t_act:
            out.append(
                {
                    "kind": "table",
                    "object": name,
                    "table": name,
                    "column": None,
                    "change": "missing",
                    "message": f"table {name} missing {when}",
                }
            )
            continue
        if name not in t_exp:
            out.append(
                {
                    "kind": "table",
                    "object": name,
                    "table": name,
                    "column": None,
                    "change": "unexpected",
                    "message": f"table {name} present {when} but not before",
                }
            )
            continue
        a, b = t_exp[name], t_act[name]
        for col in sorted(set(a["columns"]) | set(b["columns"])):
            _diff_item(
                "column",
                f"{name}.{col}",
                a["columns"].get(col),
                b["columns"].get(col),
                when,
                name,
                out,
                column=col,
            )
        if a["primary_key"]["columns"] != b["primary_key"]["columns"]:
            _diff_item(
                "primary key of",
                name,
                a["primary_key"]["columns"],
                b["primary_key"]["columns"],
                when,
                name,
                out,
            )
        for section, kind in (
            ("foreign_keys", "foreign key"),
            ("indexes", "index"),
            ("unique_constraints", "unique constraint"),
            ("check_constraints", "check constraint"),
        ):
            for key in sorted(set(a[section]) | set(b[section])):
                _diff_item(kind, key, a[section].get(key), b[section].get(key), when, name, out)
    for kind, section in (("enum", "enums"), ("view", "views")):
        for key in sorted(set(expected.get(section, {})) | set(actual.get(section, {}))):
            _diff_item(kind, key, expected[section].get(key), actual[section].get(key), when, None, out)
    for seq in sorted(set(expected.get("sequences", [])) ^ set(actual.get("sequences", []))):
        present = seq in actual.get("sequences", [])
        _diff_item("sequence", seq, None if present else seq, seq if present else None, when, None, out)
    return out
