"""Normalised schema snapshots via SQLAlchemy's Inspector, and readable differences between two.

A snapshot is plain JSON: ``{"tables": {name: {...}}, "enums": {...}, "sequences": [...], "views": {...}}``.
Each table holds its columns (type, nullability, default, comment, computed), primary key, foreign
keys, indexes, unique and check constraints, keyed by name (or a stable description when unnamed),
so two snapshots of the same database compare with ``==`` and ``diff_snapshots`` gives sentences like
"index ix_persons_email missing after downgrade". The Alembic version table is left out.

``take_snapshot(conn, previous=..., tables=...)`` re-reflects only ``tables`` and reuses the rest
from ``previous``; on PostgreSQL and SQLite a per-table catalog signature decides instead (``cache``),
so only tables whose definition is new are reflected (on PostgreSQL only the parts -- columns,
constraints, indexes -- whose own signature is new). Database-wide objects (table list, enums, sequences,
views) are always re-read.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from alembic_mcp.tools.worker.ops.sa_compat import get_multi

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


def _columns_part(key: tuple, cache: dict[str, dict[tuple, Any]], dialect: Any) -> dict[str, Any]:
    columns = cache["columns"].get(key, [])
    return {
        "columns": {c["name"]: _column(c, dialect) for c in columns},
        "column_order": [c["name"] for c in columns],
    }


def _constraints_part(key: tuple, cache: dict[str, dict[tuple, Any]]) -> dict[str, Any]:
    pk = cache["pk"].get(key) or {}
    part: dict[str, Any] = {
        "primary_key": {"name": pk.get("name"), "columns": list(pk.get("constrained_columns") or [])},
        "foreign_keys": {},
        "unique_constraints": {},
        "check_constraints": {},
    }
    for fk in cache["fks"].get(key, []):
        options = {k: v for k, v in (fk.get("options") or {}).items() if v is not None}
        part["foreign_keys"][_fk_key(fk)] = {
            "columns": list(fk["constrained_columns"]),
            "referred_table": fk["referred_table"],
            "referred_columns": list(fk["referred_columns"]),
            "options": options,
        }
    for uc in cache["uniques"].get(key, []):
        part["unique_constraints"][uc.get("name") or f"unique({', '.join(uc['column_names'])})"] = {
            "columns": list(uc["column_names"])
        }
    for ck in cache["checks"].get(key, []):
        part["check_constraints"][ck.get("name") or f"check({_norm_text(ck.get('sqltext'))})"] = {
            "sqltext": _norm_text(ck.get("sqltext"))
        }
    return part


def _indexes_part(key: tuple, cache: dict[str, dict[tuple, Any]], unique_names: set[Any]) -> dict[str, Any]:
    indexes: dict[str, Any] = {}
    for ix in cache["indexes"].get(key, []):
        if ix.get("duplicates_constraint") or (ix.get("name") in unique_names and ix.get("unique")):
            continue  # MySQL/SQLite report a unique constraint's index as an index too
        entry: dict[str, Any] = {
            "columns": [c if c is not None else "<expression>" for c in ix["column_names"]],
            "unique": bool(ix.get("unique")),
        }
        if ix.get("expressions"):
            entry["expressions"] = [_norm_text(e) for e in ix["expressions"]]
        where = (ix.get("dialect_options") or {}).get("postgresql_where") or (ix.get("dialect_options") or {}).get(
            "sqlite_where"
        )
        if where is not None:
            entry["where"] = _norm_text(where)
        indexes[ix.get("name") or f"index({', '.join(entry['columns'])})"] = entry
    return {"indexes": indexes}


def _unique_names(key: tuple, cache: dict[str, dict[tuple, Any]]) -> set[Any]:
    return {uc.get("name") for uc in cache["uniques"].get(key, [])}


def _assemble(columns: dict[str, Any], constraints: dict[str, Any], indexes: dict[str, Any]) -> dict[str, Any]:
    return {
        "columns": columns["columns"],
        "column_order": columns["column_order"],
        "primary_key": constraints["primary_key"],
        "foreign_keys": constraints["foreign_keys"],
        "indexes": indexes["indexes"],
        "unique_constraints": constraints["unique_constraints"],
        "check_constraints": constraints["check_constraints"],
    }


def _multi(insp: Any, part: str, names: list[str]) -> dict[tuple, Any]:
    try:
        return get_multi(insp, part, names)
    except NotImplementedError:
        return {}


def take_snapshot(
    conn: Connection,
    version_table: str = "alembic_version",
    previous: Snapshot | None = None,
    tables: set[str] | None = None,
    cache: dict[tuple, dict[str, Any]] | None = None,
    relations: dict[int, dict[str, Any]] | None = None,
    catalog_rows: list[Any] | None = None,
) -> Snapshot:
    """Reflect the default schema.

    With ``previous`` and ``tables``, only ``tables`` (and tables not in ``previous``) are re-reflected;
    everything else is copied from ``previous``. On PostgreSQL, ``cache`` maps (table, catalog
    signature) to a reflected table: a table whose definition has a signature seen before (e.g. back to
    its state before an upgrade after the downgrade) is taken from the cache instead of reflected again;
    it also holds the table's parts (columns, constraints, indexes) by their own signatures, so a table
    that only gained a column has its columns reflected and nothing else.

    ``relations`` (PostgreSQL only): a dict filled, in the same catalog query, with the schema's
    tables, indexes and materialized views by oid, for lock and rewrite tracing. ``catalog_rows``
    (PostgreSQL only): the rows of ``pg_catalog_sql`` for the same ``tables`` and ``relations``, already
    read in this same state (sent together with another query), instead of running it again.
    """
    insp = inspect(conn)
    dialect = conn.dialect
    out: Snapshot = {"tables": {}, "enums": {}, "sequences": [], "views": {}}
    signatures: dict[str, str | None] = {}
    partial = previous is not None and tables is not None
    if dialect.name == "postgresql":
        signatures = _pg_catalog(conn, out, catalog_only(previous, tables), relations, catalog_rows)
        table_names = list(signatures)
    else:
        table_names = insp.get_table_names()
        for view in sorted(insp.get_view_names()):
            try:
                out["views"][view] = _norm_text(insp.get_view_definition(view))
            except Exception:
                out["views"][view] = None
        if dialect.name == "sqlite" and cache is not None:
            signatures = _sqlite_signatures(conn)
    names = sorted(n for n in table_names if n != version_table)
    known: dict[str, dict[str, Any]] = {}
    if partial:
        known = {n: previous["tables"][n] for n in names if n not in tables and n in previous["tables"]}  # type: ignore[index,operator]
    if cache is not None:
        known.update(
            {
                n: cache[(n, signatures[n])]
                for n in names
                if n not in known and signatures.get(n) and (n, signatures[n]) in cache
            }
        )
    refresh = [n for n in names if n not in known]
    reflected = _reflect(insp, dialect, refresh, signatures, cache) if refresh else {}
    for name in names:
        out["tables"][name] = known[name] if name in known else reflected[name]
    return out


def _sqlite_signatures(conn: Connection) -> dict[str, str | None]:
    """SQLite: per table a signature of everything reflection reads for it, from sqlite_master in one
    query: its CREATE TABLE text, its indexes' names and texts, and the CREATE TABLE text of every other
    table its text names (a foreign key without columns is reflected with the referenced table's
    primary key). Reflection on SQLite parses exactly these texts (and PRAGMAs derived from them)."""
    rows = conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master").all()
    tables = {name: sql or "" for kind, name, _, sql in rows if kind == "table"}
    indexes: dict[str, list[str]] = {}
    for kind, name, table, sql in rows:
        if kind == "index":
            indexes.setdefault(table, []).append(f"{name}\x1f{sql or ''}")
    out: dict[str, str | None] = {}
    for name, sql in tables.items():
        h = hashlib.sha1(sql.encode("utf-8", "surrogatepass"))
        for index in sorted(indexes.get(name, [])):
            h.update(b"\x1e" + index.encode("utf-8", "surrogatepass"))
        for other in sorted(tables):
            if other != name and other in sql:
                h.update(b"\x1d" + tables[other].encode("utf-8", "surrogatepass"))
        out[name] = h.hexdigest()
    return out


_PARTS = ("columns", "constraints", "indexes")


def _part_keys(name: str, signature: str | None) -> dict[str, tuple] | None:
    """Cache keys of a table's three parts (columns / constraints / indexes), from its signature.
    The indexes part also depends on the constraints (an index backing a constraint is left out)."""
    pieces = (signature or "").split(" ")
    if len(pieces) != 3:
        return None
    cols, cons, idx = pieces
    return {
        "columns": (name, "columns", cols),
        "constraints": (name, "constraints", cons),
        "indexes": (name, "indexes", cons + idx),
    }


def _reflect(
    insp: Any,
    dialect: Any,
    refresh: list[str],
    signatures: dict[str, str | None],
    cache: dict[tuple, dict[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """Reflect ``refresh``. With a cache and part signatures (PostgreSQL), only the parts of a table
    whose definition is new are asked of the Inspector (e.g. after ``add_column`` the columns alone);
    the others come from the cache."""
    keys = {n: _part_keys(n, signatures.get(n)) if cache is not None else None for n in refresh}
    wanted: dict[str, list[str]] = {part: [] for part in _PARTS}
    for n in refresh:
        for part in _PARTS:
            if keys[n] is None or keys[n][part] not in cache:  # type: ignore[index,operator]
                wanted[part].append(n)
    multi: dict[str, dict[tuple, Any]] = {}
    if wanted["columns"]:
        multi["columns"] = _multi(insp, "columns", wanted["columns"])
    if wanted["constraints"]:
        multi["pk"] = _multi(insp, "pk_constraint", wanted["constraints"])
        multi["fks"] = _multi(insp, "foreign_keys", wanted["constraints"])
        multi["uniques"] = _multi(insp, "unique_constraints", wanted["constraints"])
        multi["checks"] = _multi(insp, "check_constraints", wanted["constraints"])
    if wanted["indexes"]:
        multi["indexes"] = _multi(insp, "indexes", wanted["indexes"])
    out: dict[str, dict[str, Any]] = {}
    for n in refresh:
        key, part_keys = (None, n), keys[n]
        in_cache = cache if cache is not None else {}
        columns = (
            _columns_part(key, multi, dialect) if n in wanted["columns"] else in_cache[part_keys["columns"]]  # type: ignore[index]
        )
        if n in wanted["constraints"]:
            constraints = {**_constraints_part(key, multi), "unique_names": _unique_names(key, multi)}
        else:
            constraints = in_cache[part_keys["constraints"]]  # type: ignore[index]
        if n in wanted["indexes"]:
            indexes = _indexes_part(key, multi, constraints["unique_names"])
        else:
            indexes = in_cache[part_keys["indexes"]]  # type: ignore[index]
        out[n] = _assemble(columns, constraints, indexes)
        if cache is not None and signatures.get(n):
            cache[(n, signatures[n])] = out[n]
            if part_keys is not None:
                cache.update(
                    {
                        part_keys["columns"]: columns,
                        part_keys["constraints"]: constraints,
                        part_keys["indexes"]: indexes,
                    }
                )
    return out


# One scan of the schema's relations: per table a signature of everything the Inspector reflects for it,
# in three parts (columns with type, nullability, default, identity, generation and comment / constraints /
# indexes), built from names and definitions only, so a table dropped and re-created identically has the
# same signature (the comment is joined from pg_description as col_description() reads it: that SQL
# function would be parsed and planned again for every column of every reading); views with their
# definitions; sequences; and, when asked for, every table and index with its oid and file node (lock and
# rewrite tracing). Then the enums.
_PG_CATALOG = text(
    "SELECT CASE WHEN c.relkind IN ('r', 'p') THEN 'table' WHEN c.relkind IN ('v', 'm') THEN 'view' "
    "WHEN c.relkind = 'S' THEN 'sequence' ELSE 'index' END AS kind, c.relname AS name, "
    "CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) "
    "WHEN c.relkind IN ('r', 'p') AND (:all_tables OR c.relname::text = ANY(CAST(:only AS text[]))) "
    "THEN concat_ws(' ', md5(coalesce("
    "(SELECT string_agg(concat_ws(':', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, ds.description), "
    "',' ORDER BY a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef d "
    "ON d.adrelid = a.attrelid AND d.adnum = a.attnum LEFT JOIN pg_description ds ON ds.objoid = a.attrelid "
    "AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum WHERE a.attrelid = c.oid AND a.attnum > 0 "
    "AND NOT a.attisdropped), '')), md5(coalesce("
    "(SELECT string_agg(con.conname || ':' || pg_get_constraintdef(con.oid), ',' ORDER BY con.conname) "
    "FROM pg_constraint con WHERE con.conrelid = c.oid), '')), md5(coalesce("
    "(SELECT string_agg(i.relname || ':' || pg_get_indexdef(i.oid), ',' ORDER BY i.relname) "
    "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), ''))) "
    "END AS detail, "
    "c.oid, c.relkind::text, c.relfilenode, CASE WHEN c.relkind = 'i' THEN (SELECT t.relname "
    "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid WHERE x.indexrelid = c.oid) END AS tablename "
    "FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
    "AND (c.relkind IN ('r', 'p', 'v', 'm', 'S') OR (:relations AND c.relkind = 'i')) "
    "UNION ALL SELECT 'enum', t.typname, string_agg(e.enumlabel, E'\\n' ORDER BY e.enumsortorder), "
    "NULL, NULL, NULL, NULL FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
    "WHERE t.typnamespace = current_schema()::regnamespace GROUP BY t.typname"
)
_TRACED_KINDS = ("r", "i", "m", "p")


def catalog_only(previous: Snapshot | None, tables: set[str] | None) -> list[str] | None:
    """The tables whose signatures a snapshot with ``previous`` and ``tables`` asks of the catalog (None: all)."""
    return sorted(tables) if previous is not None and tables is not None else None


def pg_catalog_prepared(name: str) -> str:
    """``PREPARE name`` of the catalog query of ``take_snapshot``: parsed, analysed and (once PostgreSQL
    settles on a generic plan) planned once per session; ``pg_catalog_execute`` runs it."""
    body = (
        _PG_CATALOG.text.replace(":all_tables", "$1").replace("CAST(:only AS text[])", "$2").replace(":relations", "$3")
    )
    return f"PREPARE {name}(boolean, text[], boolean) AS {body}"


def pg_catalog_execute(name: str, only: list[str] | None, relations: bool, literal: Any) -> str:
    """``EXECUTE`` of ``pg_catalog_prepared`` for the tables ``only`` (None: all), its arguments written in
    as SQL literals (``literal`` quotes a string), to be sent together with other statements."""
    names = ", ".join(literal(name) for name in only or [])
    every, traced = ("true" if flag else "false" for flag in (only is None, relations))
    return f"EXECUTE {name}({every}, ARRAY[{names}]::text[], {traced})"


def _pg_catalog(
    conn: Connection,
    out: Snapshot,
    only: list[str] | None = None,
    relations: dict[int, dict[str, Any]] | None = None,
    rows: list[Any] | None = None,
) -> dict[str, str | None]:
    """PostgreSQL: tables (with signatures; only for ``only`` when given), views (with definitions),
    sequences and enums of the current schema in one round trip (the Inspector needs one query per kind,
    and this runs after every step). ``relations``, when given, is filled with the schema's tables,
    indexes and materialized views by oid (relname, relkind, relfilenode, tablename)."""
    tables: dict[str, str | None] = {}
    if rows is None:
        params = {"all_tables": only is None, "only": list(only or []), "relations": relations is not None}
        rows = list(conn.execute(_PG_CATALOG, params))
    for kind, name, detail, oid, relkind, relfilenode, tablename in rows:
        if relations is not None and relkind in _TRACED_KINDS:
            relations[oid] = {
                "oid": oid,
                "relname": name,
                "relkind": relkind,
                "relfilenode": relfilenode,
                "tablename": tablename,
            }
        if kind == "table":
            tables[name] = detail
        elif kind == "view":
            out["views"][name] = _norm_text(detail)
        elif kind == "sequence":
            out["sequences"].append(name)
        elif kind == "enum":
            out["enums"][name] = detail.split("\n")
    out["sequences"].sort()
    out["views"] = dict(sorted(out["views"].items()))
    out["enums"] = dict(sorted(out["enums"].items()))
    return tables


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
        if a is b:
            continue  # the same reflected table (untouched, or from the signature cache): no difference
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
