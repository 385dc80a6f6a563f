"""Reading the few Alembic options the server needs (script_location, version_locations, sqlalchemy.url)
straight from alembic.ini / pyproject ``[tool.alembic]``, following Alembic's own rules, without
importing Alembic: the server and the CLI stay fast to start, Alembic runs in the worker.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_LEGACY_SPLIT = re.compile(r", *|(?: +)")


@dataclass
class AlembicOptions:
    script_location: str | None
    version_locations: list[str]
    sqlalchemy_url: str | None
    recursive_version_locations: bool = False


def _separator(parser: configparser.ConfigParser, section: str) -> str | None:
    for name in ("path_separator", "version_path_separator"):
        value = parser.get(section, name, fallback=None)
        if value is not None:
            if value not in SEPARATORS:
                raise ValueError(f"{value!r} is not a valid value for {name}; expected one of {', '.join(SEPARATORS)}")
            return SEPARATORS[value]
    return None


def read_alembic_options(
    ini: Path | None, toml_alembic: dict[str, Any] | None, section: str, root: Path
) -> AlembicOptions:
    """The options as Alembic's ``Config`` would resolve them (ini first, then ``[tool.alembic]``)."""
    script_location = sqlalchemy_url = None
    version_locations: list[str] = []
    recursive: str | bool | None = None
    if ini is not None:
        parser = configparser.ConfigParser(defaults={"here": str(ini.parent.resolve())})
        parser.read(ini, encoding="utf-8")
        if parser.has_section(section):
            script_location = parser.get(section, "script_location", fallback=None)
            sqlalchemy_url = parser.get(section, "sqlalchemy.url", fallback=None)
            recursive = parser.get(section, "recursive_version_locations", fallback=None)
            raw = parser.get(section, "version_locations", fallback=None)
            if raw:
                sep = _separator(parser, section)
                version_locations = (
                    [x.strip() for x in raw.split(sep) if x.strip()] if sep else _LEGACY_SPLIT.split(raw)
                )
    here = str(root)
    toml_alembic = toml_alembic or {}
    if script_location is None and isinstance(toml_alembic.get("script_location"), str):
        script_location = toml_alembic["script_location"].replace("%(here)s", here)
    if not version_locations and isinstance(toml_alembic.get("version_locations"), list):
        version_locations = [str(v).replace("%(here)s", here) for v in toml_alembic["version_locations"]]
    if recursive is None:
        recursive = toml_alembic.get("recursive_version_locations")
    truthy = recursive is True or str(recursive).strip().lower() in ("true", "1", "yes", "on")
    return AlembicOptions(script_location, version_locations, sqlalchemy_url, truthy)
