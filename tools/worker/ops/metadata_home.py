"""Where the models' MetaData lives: the module (and file) that defines it or the declarative base
holding it, so advice about the metadata (a naming_convention) points at the models, not env.py."""

from __future__ import annotations

import sys
from typing import Any


def metadata_home(metadata: Any) -> str | None:
    """The file of the module defining ``metadata`` (as ``MetaData(...)`` or ``Base.metadata``), or None."""
    if metadata is None:
        return None
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not _defines(module, metadata):
            continue
        return file
    return None


def _defines(module: Any, metadata: Any) -> bool:
    """The module holds the metadata or a declarative base owning it (env.py, loaded as ``env_py``, and
    library modules excepted); sys.modules is in import order, so the first holder is the defining one."""
    name = getattr(module, "__name__", "")
    if name == "env_py" or name.split(".")[0] in ("alembic", "sqlalchemy", "alembic_mcp"):
        return False
    try:
        values = list(vars(module).values())
    except TypeError:
        return False
    return any(
        value is metadata or (isinstance(value, type) and value.__dict__.get("metadata") is metadata)
        for value in values
    )
