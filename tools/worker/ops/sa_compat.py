"""The few SQLAlchemy calls that differ between 1.4 and 2.x, behind one name each.

1.4 engines are made in 2.0 style (``future=True``: ``Connection.commit()``/``rollback()``), and the
Inspector's batch ``get_multi_*`` methods (2.0) are emulated per table on 1.4.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SQLALCHEMY_2 = int(sqlalchemy.__version__.split(".")[0]) >= 2
ASYNC_DRIVERS = frozenset({"asyncpg", "aiosqlite", "aiomysql", "asyncmy", "psycopg_async"})


def is_async_driver(url: str) -> bool:
    return make_url(url).get_driver_name() in ASYNC_DRIVERS


def new_engine(url: str, **kwargs: Any) -> Any:
    """``create_engine`` with 2.0-style connections on every supported version."""
    if not SQLALCHEMY_2:
        kwargs.setdefault("future", True)
    return create_engine(url, **kwargs)


def get_multi(inspector: Any, part: str, filter_names: list[str]) -> dict[tuple, Any]:
    """``inspector.get_multi_<part>(filter_names=...)``: ``{(None, table): value}``; NotImplementedError
    passes through (a dialect without that reflection)."""
    batch = getattr(inspector, f"get_multi_{part}", None)
    if batch is not None:
        return batch(filter_names=filter_names)
    single = getattr(inspector, f"get_{part}")
    return {(None, name): single(name) for name in filter_names}


def with_sync_connection(url: str, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(sync_connection)`` on a new connection (async drivers through ``run_sync``)."""
    if is_async_driver(url):
        from sqlalchemy.ext.asyncio import create_async_engine

        async def go():
            engine = create_async_engine(url, poolclass=NullPool)
            try:
                async with engine.connect() as conn:
                    return await conn.run_sync(fn)
            finally:
                await engine.dispose()

        return asyncio.run(go())
    engine = new_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()
