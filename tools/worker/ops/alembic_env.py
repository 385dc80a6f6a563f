"""Inside the worker: an Alembic ``Config`` pointed at a chosen database the three ways env.py reads it.

1. the ``sqlalchemy.url`` main option, 2. the URL environment variables (default ``DATABASE_URL``),
3. ``config.attributes["connection"]`` for env.py files that honour a passed-in connection
   (sync drivers only: an async env.py makes its own engine from the URL).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.config import Config

from alembic_mcp.tools.worker.ops.plain_module import check_plain_module
from alembic_mcp.tools.worker.ops.sa_compat import is_async_driver, new_engine
from alembic_mcp.tools.worker.protocol import ProjectSpec

__all__ = ["is_async_driver"]  # re-exported for the ops


def make_alembic_config(spec: ProjectSpec) -> Config:
    """A real Alembic ``Config`` for the project (``toml_file`` only on Alembic versions that read it)."""
    kwargs: dict[str, Any] = {"file_": spec.alembic_ini, "ini_section": spec.ini_section, "stdout": io.StringIO()}
    if spec.toml_file:
        kwargs["toml_file"] = spec.toml_file
    cfg = Config(**kwargs)
    if spec.alembic_ini is None:
        cfg.config_args["here"] = spec.project_dir
    return cfg


def config_from_spec(spec: ProjectSpec, database_url: str | None = None) -> Config:
    cfg = make_alembic_config(spec)
    if database_url:
        cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
        for name in spec.url_env_vars or ["DATABASE_URL"]:
            os.environ[name] = database_url
    else:  # never the URL alembic.ini names: that is the target's
        cfg.remove_main_option("sqlalchemy.url")
    return cfg


READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
    "sqlite": "PRAGMA query_only = ON",
}


def make_sessions_read_only(database_url: str) -> None:
    """Every connection any engine in this process opens from now on is read-only (the URL asks the
    driver too, where it can; asyncpg cannot, so this covers it)."""
    from sqlalchemy import event
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import Pool

    statement = READ_ONLY_SESSION.get(make_url(database_url).get_backend_name())
    if statement is None:
        raise RuntimeError(f"no read-only session for {make_url(database_url).get_backend_name()!r}")

    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()  # a SET inside a transaction that is rolled back would be undone

    event.listen(Pool, "connect", on_connect)


@contextmanager
def connected_config(spec: ProjectSpec, database_url: str) -> Iterator[Config]:
    """A Config with the URL set and, for sync drivers, an open connection in ``attributes``.

    The connection starts outside any transaction, as Alembic's own runner gives it, so env.py's
    ``begin_transaction()`` owns the transaction and ``autocommit_block()`` can commit it; whatever is
    still open is committed when the block succeeds (rolled back on error).
    """
    cfg = config_from_spec(spec, database_url)
    if is_async_driver(database_url):
        yield cfg
        return
    from sqlalchemy.pool import NullPool

    engine = new_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            cfg.attributes["connection"] = connection
            yield cfg
            if connection.in_transaction():
                connection.commit()
    finally:
        engine.dispose()


def alembic_option(cfg: Config, name: str) -> str | None:
    """An ``[alembic]`` option, from pyproject's [tool.alembic] too on Alembic versions that read it (1.16+)."""
    reader = getattr(cfg, "get_alembic_option", None) or cfg.get_main_option
    return reader(name)


@contextmanager
def atomic_templates() -> Iterator[None]:
    """Make Alembic write revision files atomically: temp file, fsync, rename.

    A crash or kill mid-write leaves either no file or a ``.tmp`` name Alembic never loads. A rendered
    file that is not a plain migration module (client text turned into code) is never renamed into
    place, so Alembic never imports it.
    """
    from alembic.script.base import ScriptDirectory

    original = ScriptDirectory._generate_template

    def generate(self, src, dest, **kw):
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            original(self, src, tmp, **kw)
            check_plain_module(tmp.read_text(encoding="utf-8"), dest.name)
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    ScriptDirectory._generate_template = generate  # type: ignore[method-assign]
    try:
        yield
    finally:
        ScriptDirectory._generate_template = original  # type: ignore[method-assign]


def copy_to_sandbox(cfg: Config, sandbox: Path) -> dict[Path, Path]:
    """Copy the script directory and version locations into ``sandbox`` and repoint ``cfg`` there.

    Used by dry runs: Alembic writes into the copy, the project stays untouched. Returns the map
    from sandbox folders back to the real ones.
    """
    import shutil

    from alembic.script import ScriptDirectory

    script_dir = ScriptDirectory.from_config(cfg)
    real_script = Path(script_dir.dir).resolve()
    copy_script = sandbox / "script"
    shutil.copytree(real_script, copy_script, ignore=shutil.ignore_patterns("__pycache__"))
    mapping = {copy_script: real_script}
    cfg.set_main_option("script_location", str(copy_script))
    if alembic_option(cfg, "version_locations"):
        copies = []
        for index, location in enumerate(script_dir._version_locations):
            location = Path(location).resolve()
            if location.is_relative_to(real_script):
                copy = copy_script / location.relative_to(real_script)
            else:
                copy = sandbox / f"versions_{index}"
                if location.exists():
                    shutil.copytree(location, copy, ignore=shutil.ignore_patterns("__pycache__"))
                mapping[copy] = location
            copies.append(str(copy))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join(copies))
    return mapping


def unsandbox(path: str | Path, mapping: dict[Path, Path]) -> str:
    path = Path(path)
    for copy, real in sorted(mapping.items(), key=lambda kv: -len(str(kv[0]))):
        if path.is_relative_to(copy):
            return str(real / path.relative_to(copy))
    return str(path)
