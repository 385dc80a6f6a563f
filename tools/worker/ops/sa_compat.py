"""The few SQLAlchemy calls that differ between 1.4 and 2.x, behind one name each.

1.4 engines are made in 2.0 style (``future=True``: ``Connection.commit()``/``rollback()``), and the
Inspector's batch ``get_multi_*`` methods (2.0) are emulated per table on 1.4.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import create_engine

SQLALCHEMY_2 = int(sqlalchemy.__version__.split(".")[0]) >= 2


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
