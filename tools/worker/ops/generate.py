"""Worker op ``generate``: write a revision with Alembic's own ``command.revision`` (autogenerate,
the project's template and post-write hooks) and report what autogenerate saw and what it cannot see.

Args: ``message``, ``autogenerate``, ``rev_id``, ``dry_run`` (write into a sandbox copy of the
versions folder), ``upgrade_first`` (the database is a scratch database: run ``bootstrap``, the
starting-schema setting, if given, and ``upgrade heads`` it before
comparing), ``version_table``, ``render_url`` (also render the new revision offline with that URL,
for the review's SQL layer).
``request.database_url`` is the database autogenerate compares with.

First the revision files are checked (unreadable history, several heads, rev_id taken: reported as
a ``stage`` without writing). env.py's ``context.configure`` is wrapped to learn what it passed
(target_metadata, render_as_batch, compare_server_default, filters) and to wrap its
``process_revision_directives``: before the project's own hook runs, ours records the operations
detected and gathers the blind-spot facts from the same connection; after it, the directives are
emptied (so no file is written) when nothing was detected or the migration would drop every table.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command, util
from alembic.operations import ops as alembic_ops
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from alembic_mcp.tools.worker.ops.alembic_env import (
    atomic_templates,
    config_from_spec,
    connected_config,
    copy_to_sandbox,
    is_async_driver,
    make_sessions_read_only,
    unsandbox,
)
from alembic_mcp.tools.worker.ops.blind_spot_facts import (
    check_changes,
    database_objects,
    enum_changes,
    server_default_changes,
)
from alembic_mcp.tools.worker.ops.metadata_home import metadata_home
from alembic_mcp.tools.worker.ops.plain_module import NotPlainModule
from alembic_mcp.tools.worker.ops.starting_schema import apply_starting_schema
from alembic_mcp.tools.worker.protocol import GenerateArgs, ProjectSpec, WorkerRequest, describe_exception
from alembic_mcp.tools.worker.revision_ids import as_revision_list


def run(request: WorkerRequest) -> dict[str, Any]:
    spec, args, url = request.project, request.args, request.database_url
    state: dict[str, Any] = {
        "configured": [],
        "operations": [],
        "facts": {},
        "fact_errors": [],
        "empty": False,
        "refused": None,
    }
    if args.read_only and url:
        make_sessions_read_only(url)
    if args.upgrade_first and url and args.bootstrap:
        try:  # the scratch database's starting schema, before the base revision (the bootstrap setting)
            apply_starting_schema(url, args.bootstrap, spec.project_dir)
        except BaseException as exc:
            return {"stage": "bootstrap", "heads": [], "error": describe_exception(exc)}
    with tempfile.TemporaryDirectory(prefix="alembic-mcp-gen-") as sandbox:
        use_connection = bool(url) and not is_async_driver(url or "")
        with connected_config(spec, url or "") if use_connection else nullcontext(config_from_spec(spec, url)) as cfg:
            mapping = copy_to_sandbox(cfg, Path(sandbox)) if args.dry_run else {}
            refusal = _check_history(cfg, args.rev_id)
            if refusal is not None:
                if refusal.get("path"):
                    refusal["path"] = unsandbox(refusal["path"], mapping)
                return refusal
            before = ScriptDirectory.from_config(cfg)
            heads = state["heads"] = sorted(before.get_heads())  # before the new revision: what is compared
            if args.upgrade_first and url:
                try:
                    command.upgrade(cfg, "heads")
                except BaseException as exc:
                    error = describe_exception(exc, extra_roots=(sandbox,))
                    if error.get("file"):
                        error["file"] = unsandbox(error["file"], mapping)
                    return {"stage": "upgrade", "heads": heads, "error": error}
            try:
                with atomic_templates(), _wrapped_configure(state, args):
                    scripts = command.revision(
                        cfg,
                        message=args.message,
                        autogenerate=bool(args.autogenerate),
                        rev_id=args.rev_id,
                    )
            except NotPlainModule as exc:
                return {"stage": "not_plain", "error": describe_exception(exc)}
            except util.CommandError as exc:
                if "not up to date" in str(exc):
                    return {"stage": "target_not_at_head", "heads": heads}
                if _metadata_missing(state):
                    return {"stage": "autogenerate", "target_metadata_none": True, **_public(state)}
                return {"stage": "autogenerate", "error": describe_exception(exc), **_public(state)}
            except BaseException as exc:
                return {"stage": "autogenerate", "error": describe_exception(exc), **_public(state)}
            if isinstance(scripts, list):
                scripts = scripts[0] if scripts else None
            result: dict[str, Any] = {"stage": "done", **_public(state)}
            if scripts is not None:
                result.update(
                    revision=scripts.revision,
                    down_revision=as_revision_list(scripts.down_revision),
                    path=unsandbox(scripts.path, mapping),
                    content=Path(scripts.path).read_text(encoding="utf-8"),
                )
                if args.render_url:
                    try:
                        result["render"] = _render_offline(spec, args.render_url, cfg, scripts, before)
                    except Exception:  # the file is written: the review renders it in its own worker
                        pass
            return result


def _render_offline(spec: ProjectSpec, url: str, cfg, scripts, before: ScriptDirectory) -> dict[str, Any]:
    """The new revision's offline SQL (``upgrade <down>:<rev> --sql``) for review_migration's squawk
    layer, rendered here so the review needs no second interpreter. A fresh Config pointed at the target
    URL (as review_migration renders it) and at the same folders (the sandbox on a dry run), with no
    connection attribute: env.py takes its offline path and connects nowhere."""
    from alembic_mcp.tools.worker.ops.render_sql import METADATA, render_one, restrict

    offline = config_from_spec(spec, url)
    for name in ("script_location", "version_locations", "path_separator"):
        value = cfg.get_main_option(name)
        if value:
            offline.set_main_option(name, value.replace("%", "%%"))
    downs = as_revision_list(scripts.down_revision)
    down = downs[0] if downs else None
    script_dir = ScriptDirectory.from_config(offline)
    try:  # import only the new file and the one below it, not the whole history again
        restrict(script_dir, [scripts.path] + ([before.get_revision(down).path] if down else []))
        script_dir.revision_map.heads  # noqa: B018
    except Exception:
        script_dir = ScriptDirectory.from_config(offline)
    rendered = render_one(offline, script_dir, down, scripts.revision)
    return {"rendered": {scripts.revision: rendered}, "metadata": dict(METADATA)}


def _check_history(cfg, rev_id: str | None) -> dict[str, Any] | None:
    """Refusals that need only the revision files: a broken history, several heads, a taken rev_id."""
    try:
        script_dir = ScriptDirectory.from_config(cfg)
        heads = sorted(script_dir.get_heads())
        if rev_id is not None:
            for script in script_dir.walk_revisions():
                if script.revision == rev_id:
                    return {"stage": "rev_id_exists", "path": script.path, "heads": heads}
    except BaseException as exc:
        return {"stage": "history", "error": describe_exception(exc)}
    if len(heads) > 1:
        return {"stage": "heads", "heads": heads}
    return None


def _public(state: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able part of the state (the MetaData objects stay in the worker)."""
    return {k: v for k, v in state.items() if k != "configured"}


def _metadata_missing(state: dict[str, Any]) -> bool:
    return bool(state["configured"]) and all(c.get("target_metadata") is None for c in state["configured"])


@contextmanager
def _wrapped_configure(state: dict[str, Any], args: GenerateArgs) -> Iterator[None]:
    original = EnvironmentContext.configure

    def configure(self, *positional, **kw):
        metadata = kw.get("target_metadata")
        state["configured"].append({"target_metadata": metadata})
        user_hook = kw.get("process_revision_directives")

        def hook(context, revision, directives):
            # Analyse what autogenerate produced before the project's own hook may rewrite or drop it.
            if args.autogenerate:
                _analyse(context, directives, metadata, kw, state, args)
            if user_hook is not None:
                user_hook(context, revision, directives)
            if state["refused"] or state["empty"]:
                directives[:] = []

        kw["process_revision_directives"] = hook
        return original(self, *positional, **kw)

    EnvironmentContext.configure = configure  # type: ignore[method-assign]
    try:
        yield
    finally:
        EnvironmentContext.configure = original  # type: ignore[method-assign]


# --- what autogenerate detected -------------------------------------------------------------------


def _snake(op: object) -> str:
    name = type(op).__name__
    name = name[:-2] if name.endswith("Op") else name
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _type_text(type_: Any, dialect) -> str | None:
    if type_ is None:
        return None
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return repr(type_)


def _flatten(container, table: str | None = None, schema: str | None = None):
    for op in container.ops:
        if isinstance(op, alembic_ops.ModifyTableOps):
            yield from _flatten(op, op.table_name, op.schema)
        else:
            yield op, table, schema


def _default_sql(default, dialect) -> str | None:
    """A server default as the SQL the database gets (``false``, ``now()``, ``'draft'``), None without one."""
    if default is None:
        return None
    arg = getattr(default, "arg", default)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    text = getattr(arg, "text", None)
    if isinstance(text, str):
        return text
    try:
        return str(arg.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # an expression this dialect cannot compile offline: its Python text says enough
        return str(arg)


def describe_op(op, table: str | None, schema: str | None, dialect) -> dict[str, Any]:
    info: dict[str, Any] = {
        "op": _snake(op),
        "table": getattr(op, "table_name", None) or table,
        "schema": getattr(op, "schema", None) or schema,
        "column": None,
    }
    if isinstance(op, alembic_ops.AddColumnOp):
        column = op.column
        info.update(
            column=column.name,
            nullable=bool(column.nullable),
            server_default=_default_sql(column.server_default, dialect),
            type=_type_text(column.type, dialect),
            primary_key=bool(column.primary_key),
            foreign_keys=sorted(str(fk.target_fullname) for fk in column.foreign_keys),
        )
    elif isinstance(op, alembic_ops.DropColumnOp):
        info["column"] = op.column_name
        reverse = getattr(op, "_reverse", None)
        if reverse is not None:
            info.update(type=_type_text(reverse.column.type, dialect), nullable=bool(reverse.column.nullable))
    elif isinstance(op, alembic_ops.AlterColumnOp):
        info["column"] = op.column_name
        changes: dict[str, Any] = {}
        if op.modify_nullable is not None:
            changes["nullable"] = op.modify_nullable
        if op.modify_type is not None:
            changes["type"] = _type_text(op.modify_type, dialect)
            changes["existing_type"] = _type_text(op.existing_type, dialect)
        if op.modify_server_default is not False:
            changes["server_default"] = _default_sql(op.modify_server_default, dialect)
        if op.modify_name is not None:
            changes["new_name"] = op.modify_name
        info["changes"] = changes
    elif isinstance(op, alembic_ops.CreateTableOp):
        info["columns"] = [c.name for c in op.columns if hasattr(c, "name") and hasattr(c, "type")]
        info["column_types"] = {
            c.name: _type_text(c.type, dialect) for c in op.columns if hasattr(c, "name") and hasattr(c, "type")
        }
    elif isinstance(op, alembic_ops.DropTableOp):
        reverse = getattr(op, "_reverse", None)
        columns = [c for c in (reverse.columns if reverse is not None else []) if hasattr(c, "type")]
        info["columns"] = [c.name for c in columns]
        info["column_types"] = {c.name: _type_text(c.type, dialect) for c in columns}
    elif isinstance(op, (alembic_ops.CreateIndexOp, alembic_ops.DropIndexOp)):
        info["name"] = str(op.index_name) if op.index_name else None
        if isinstance(op, alembic_ops.CreateIndexOp):
            info["columns"] = [str(c) for c in op.columns]
            info["unique"] = bool(op.unique)
    elif hasattr(op, "constraint_name"):
        info["name"] = str(op.constraint_name) if op.constraint_name else None
    return info


def _metadatas(metadata) -> list:
    if metadata is None:
        return []
    return list(metadata) if isinstance(metadata, (list, tuple)) else [metadata]


def _analyse(context, directives, metadata, opts: dict[str, Any], state: dict[str, Any], args: GenerateArgs) -> None:
    if not directives:
        return
    dialect = context.dialect
    operations: list[dict[str, Any]] = []
    for script in directives:
        for container in script.upgrade_ops_list:
            for op, table, schema in _flatten(container):
                operations.append(describe_op(op, table, schema, dialect))
    state["operations"].extend(operations)
    facts = state["facts"]
    facts["dialect"] = dialect.name
    metadatas = _metadatas(metadata)
    facts["metadata_tables"] = sorted(
        {t.fullname if hasattr(t, "fullname") else t.name for md in metadatas for t in md.tables.values()}
    )
    from sqlalchemy.sql.schema import DEFAULT_NAMING_CONVENTION

    facts["naming_convention"] = (
        all(dict(md.naming_convention) != dict(DEFAULT_NAMING_CONVENTION) for md in metadatas) if metadatas else None
    )
    facts["naming_missing"] = [
        kind for kind in ("uq", "fk", "ck", "pk") if not any(kind in md.naming_convention for md in metadatas)
    ]
    facts["metadata_home"] = metadata_home(metadatas[0]) if metadatas else None
    facts["render_as_batch"] = bool(opts.get("render_as_batch"))
    connection = context.connection
    version_table = opts.get("version_table") or args.version_table or "alembic_version"
    db_tables: list[str] = []
    if connection is not None:
        from sqlalchemy import inspect

        try:
            db_tables = sorted(t for t in inspect(connection).get_table_names() if t != version_table)
        except Exception as exc:
            state["fact_errors"].append(f"listing tables: {exc}")
    facts["database_tables"] = db_tables
    dropped = {o["table"] for o in operations if o["op"] == "drop_table"}
    if db_tables and set(db_tables) <= dropped:
        state["refused"] = "drop-all-tables"
        return
    if all(all(c.is_empty() for c in script.upgrade_ops_list) for script in directives):
        state["empty"] = True
    if connection is None:
        return
    created = {o["table"] for o in operations if o["op"] == "create_table"}
    for name, gather in (
        ("enum_changes", enum_changes),
        ("check_changes", check_changes),
        ("server_default_changes", server_default_changes),
        ("database_objects", database_objects),
    ):
        try:
            facts[name] = gather(connection, metadatas, opts, created)
        except Exception as exc:  # a fact we cannot gather must not stop the generation
            state["fact_errors"].append(f"{name}: {type(exc).__name__}: {exc}")
