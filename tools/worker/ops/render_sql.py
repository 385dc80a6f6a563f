"""Worker op ``render_sql``: render revisions offline (``alembic upgrade <down>:<rev> --sql``).

One ScriptDirectory for all revisions; each revision's SQL is captured separately. A revision that
cannot render offline (it reads rows, inspects the database) is reported with its error, not raised.
``extra_paths``: revision files outside the versions directory (a generated file not written yet).

An env.py that refuses offline mode (it raises, or returns, before running any migration: dagster's needs
a connection) would leave the review without SQL. The revisions are then rendered by Alembic alone: an
EnvironmentContext configured for the URL's dialect as the stock offline env.py does, the revision modules
loaded by the ScriptDirectory and run through Operations bound to that context. Each such revision carries
``without_env`` (env.py's error): what env.py would set (version table, schemas, target_metadata) is absent.
"""

from __future__ import annotations

import gc
import io
import re
import sys
from pathlib import Path
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from alembic_mcp.tools.worker.ops.alembic_env import config_from_spec
from alembic_mcp.tools.worker.ops.metadata_home import metadata_home
from alembic_mcp.tools.worker.protocol import WorkerRequest, describe_exception

RUNNING = re.compile(r"^-- Running upgrade (.*?) -> (\S+)\s*$", re.M)


NAMED_KINDS = ("uq", "fk", "ck", "pk")
METADATA: dict[str, Any] = {}


def _record_metadata(env: EnvironmentContext) -> None:
    """Whether env.py's target_metadata names constraints (MetaData(naming_convention=...)), and the
    models' tables and columns (do the models already use a renamed name?)."""
    if METADATA:
        return
    target = env.context_opts.get("target_metadata") if hasattr(env, "context_opts") else None
    items = target if isinstance(target, (list, tuple)) else [target] if target is not None else []
    conventions = set()
    for metadata in items:
        conventions |= {k for k in getattr(metadata, "naming_convention", {}) if isinstance(k, str)}
    tables: dict[str, list[str]] = {}
    types: dict[str, dict[str, str]] = {}
    dialect = _dialect(env)
    for table in _tables_by_name(items):
        tables[table.name] = [column.name for column in table.columns]
        types[table.name] = {column.name: _type_text(column.type, dialect) for column in table.columns}
    METADATA.update(
        {
            "found": bool(items),
            "missing": [k for k in NAMED_KINDS if k not in conventions],
            "tables": tables,
            "types": types,
            "types_dialect": getattr(dialect, "name", None),
            "home": metadata_home(items[0]) if items else None,
        }
    )


def _tables_by_name(items: list[Any] | tuple[Any, ...]) -> list[Any]:
    """The models' tables as the migrations name them: a table of the default schema by its name; one in
    another schema by its name only when no other table has it (indico keeps every table in a schema),
    so archive.persons never passes for persons."""
    every = [table for metadata in items for table in getattr(metadata, "tables", {}).values()]
    default = {table.name for table in every if table.schema is None}
    named: dict[str, list[Any]] = {}
    for table in every:
        if table.schema is None or table.name not in default:
            named.setdefault(table.name, []).append(table)
    return [found[0] for found in named.values() if len(found) == 1]


def _dialect(env: EnvironmentContext) -> Any:
    try:
        return env.get_context().dialect
    except Exception:  # env.py never configured a context (it ended early): the default dialect
        return None


def _type_text(column_type: Any, dialect: Any) -> str:
    """The type as the target's dialect writes it (``VARCHAR(20)``, an enum's name on PostgreSQL); a type
    that cannot be compiled is named by its class."""
    try:
        return str(column_type.compile(dialect=dialect)) if dialect is not None else str(column_type)
    except Exception:  # a user type's compile may raise anything
        return type(column_type).__name__


class SwallowedError(RuntimeError):
    """The migration's code raised where nobody sees it (``__del__``, a weakref callback): what that code
    does online, the render did not show."""


class EnvRefusedOffline(Exception):
    """env.py ended before it ran any migration offline; ``info`` says how."""

    def __init__(self, info: dict[str, Any]):
        super().__init__(info.get("message"))
        self.info = info


def _refusal(exc: BaseException | None) -> dict[str, Any]:
    if exc is None:
        return {"type": "NoMigrationsRun", "message": "env.py returned without running the migrations offline"}
    info = describe_exception(exc)
    info.pop("traceback", None)
    return info


def _run_without_env(env: EnvironmentContext, cfg) -> None:
    """What the stock offline env.py does, for the dialect of the URL the op was given."""
    env.configure(url=cfg.get_main_option("sqlalchemy.url"), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with env.begin_transaction():
        env.run_migrations()


def _render(cfg, script: ScriptDirectory, start: str | None, destination: str, with_env: bool = True) -> str:
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    started: list[str] = []

    def upgrade(rev, context):
        started.append(destination)
        # the models as env.py configured them, before any migration runs: upgrade() code can change
        # target_metadata (append_column), and what it left must not pass for the application's models
        _record_metadata(env)
        return script._upgrade_revs(destination, rev)

    swallowed: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda raised: swallowed.append(f"{raised.exc_type.__name__}: {raised.exc_value}")
    try:
        with EnvironmentContext(
            cfg,
            script,
            fn=upgrade,
            as_sql=True,
            starting_rev=start,
            destination_rev=destination,
            output_buffer=buffer,
        ) as env:
            try:
                if with_env:
                    script.run_env()
                else:
                    _run_without_env(env, cfg)
            except BaseException as exc:
                if with_env and not started:
                    raise EnvRefusedOffline(_refusal(exc)) from exc
                raise
            finally:
                _record_metadata(env)
            if with_env and not started:
                raise EnvRefusedOffline(_refusal(None))
        gc.collect()  # what the migration left for the collector runs its __del__ now, inside the render
    finally:
        sys.unraisablehook = previous
    if swallowed:
        raise SwallowedError(f"an exception nobody sees was raised while rendering ({swallowed[0][:200]})")
    return buffer.getvalue()


def split_by_revision(sql: str) -> dict[str, str]:
    """One offline script cut at alembic's ``-- Running upgrade a -> b`` comments."""
    marks = list(RUNNING.finditer(sql))
    out: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(sql)
        out[mark.group(2)] = sql[mark.start() : end]
    return out


def _loader(script: ScriptDirectory, loads) -> None:
    """Give ``script`` a revision map built from ``loads()`` (RevisionMap keeps the loader it was made
    with, so replacing ``script._load_revisions`` alone changes nothing)."""
    from alembic.script.revision import RevisionMap

    script._load_revisions = loads  # type: ignore[method-assign]
    script.revision_map = RevisionMap(loads)


def _tuple(value) -> tuple:
    return () if value is None else (value,) if isinstance(value, str) else tuple(value)


def _scripts(script: ScriptDirectory, paths: list[str]):
    from alembic.script import Script

    for path in paths:
        script_obj = Script._from_path(script, Path(path))
        if script_obj is not None:
            yield script_obj


def restrict(script: ScriptDirectory, paths: list[str]) -> None:
    """Load only the files the render needs (the revisions and the one below the first).

    Rendering ``down:rev`` walks only that stretch of the graph; importing every other migration of a
    long history would cost more than the render itself. The revision below the first is a base here.
    """

    def load():
        loaded = list(_scripts(script, paths))
        ids = {s.revision for s in loaded}
        for s in loaded:
            downs = _tuple(s.down_revision) + _tuple(s.dependencies)
            if any(d not in ids for d in downs):  # a base of this stretch
                s.down_revision = tuple(d for d in _tuple(s.down_revision) if d in ids) or None
                s.dependencies = None
        return iter(loaded)

    _loader(script, load)


def _add(script: ScriptDirectory, extra: list[str]) -> None:
    """Load ``extra`` files (revisions not in the versions directory yet) along with the history."""
    original = script._load_revisions

    def load():
        yield from original()
        yield from _scripts(script, extra)

    _loader(script, load)


def run(request: WorkerRequest) -> dict[str, Any]:
    cfg = config_from_spec(request.project, request.database_url or "postgresql://")
    script = ScriptDirectory.from_config(cfg)
    paths = request.args.paths
    extra = request.args.extra_paths or []  # already among ``paths`` when those are given
    if paths:
        restrict(script, paths)
        try:
            script.revision_map.heads  # noqa: B018
        except Exception:  # e.g. a depends_on outside the stretch: load the whole history instead
            script = ScriptDirectory.from_config(cfg)
            _add(script, extra)
    elif extra:
        _add(script, extra)
    script.revision_map.heads  # noqa: B018 - load the files now: a broken one fails the whole op
    revisions = request.args.revisions
    try:
        rendered = _render_all(cfg, script, revisions, request.args.chain, with_env=True)
    except EnvRefusedOffline as refused:
        rendered = _render_all(cfg, script, revisions, request.args.chain, with_env=False)
        for piece in rendered.values():
            piece["without_env"] = refused.info
    return {"rendered": rendered, "metadata": METADATA}


def _render_all(cfg, script: ScriptDirectory, revisions: list, chain: bool, with_env: bool) -> dict[str, Any]:
    """Each revision's piece; EnvRefusedOffline when env.py refuses offline mode (``with_env``)."""
    if chain and revisions:
        # A linear selection: one offline run, cut per revision (env.py runs once, not per revision).
        try:
            pieces = split_by_revision(_render(cfg, script, revisions[0][1], revisions[-1][0], with_env))
            if all(rev in pieces for rev, _ in revisions):
                return {rev: {"sql": pieces[rev]} for rev, _ in revisions}
        except EnvRefusedOffline:
            raise
        except BaseException:
            pass
    return {revision: _render_piece(cfg, script, down, revision, with_env) for revision, down in revisions}


def _render_piece(cfg, script: ScriptDirectory, down: str | None, revision: str, with_env: bool) -> dict[str, Any]:
    try:
        return {"sql": _render(cfg, script, down or None, revision, with_env)}
    except EnvRefusedOffline:
        raise
    except BaseException as exc:  # user code: anything can happen
        info = describe_exception(exc)
        info.pop("traceback", None)
        return {"error": info, "sql": ""}


def render_one(cfg, script: ScriptDirectory, down: str | None, revision: str) -> dict[str, Any]:
    """``{"sql": ...}`` of one revision, or ``{"error": ..., "sql": ""}`` when it cannot render offline
    (rendered without env.py, and marked ``without_env``, when env.py refuses offline mode)."""
    try:
        return _render_piece(cfg, script, down, revision, with_env=True)
    except EnvRefusedOffline as refused:
        return {**_render_piece(cfg, script, down, revision, with_env=False), "without_env": refused.info}
