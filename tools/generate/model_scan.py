"""Find the tables a project's model modules define, by reading the source (nothing is imported).

Used to diagnose autogenerate's most common blind spot: a model module env.py never imports, so its
tables are missing from ``target_metadata``. A table is found from ``__tablename__ = "name"`` in a
class body and from ``Table("name", metadata, ...)`` calls. Folders that hold no application models
(virtualenvs, hidden folders, tests, the migrations folder) are skipped, and so are files that are
links out of the project, FIFOs, devices, sockets or oversized (reported back as skipped). Reading is
blocking I/O: async callers run the scan in a thread.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

from alembic_mcp.tools.core.containment import UnsafeFile, check_source_file
from alembic_mcp.tools.history.migration_ast import literal_value

SKIP_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "site-packages",
        "venv",
        "env",
        "build",
        "dist",
        "tests",
        "test",
    }
)
MAX_FILES = 5000
MAX_BYTES = 1_000_000
MAX_SKIPPED_REPORTED = 20


@dataclass(frozen=True)
class ModelTable:
    table: str
    schema: str | None
    defined_by: str  # class name, or "Table()"
    file: str  # absolute path
    line: int
    module: str  # dotted module name relative to the project root

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _table_args_schema(body: list[ast.stmt]) -> str | None:
    for stmt in body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__table_args__" for t in stmt.targets
        ):
            value = literal_value(stmt.value)
            if isinstance(value, dict):
                return value.get("schema")
            if isinstance(value, tuple) and value and isinstance(value[-1], dict):
                return value[-1].get("schema")
    return None


def tables_in_source(source: str, path: Path, module: str) -> list[ModelTable]:
    """Tables declared in one Python file."""
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        return []
    found: list[ModelTable] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                targets: list[ast.expr] = []
                value = None
                if isinstance(stmt, ast.Assign):
                    targets, value = stmt.targets, stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    targets, value = [stmt.target], stmt.value
                if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets):
                    name = literal_value(value)
                    if isinstance(name, str) and name:
                        found.append(
                            ModelTable(name, _table_args_schema(node.body), node.name, str(path), stmt.lineno, module)
                        )
        elif isinstance(node, ast.Call) and _call_name(node.func) == "Table" and len(node.args) >= 2:
            name = literal_value(node.args[0])
            if isinstance(name, str) and name:
                schema = next((literal_value(kw.value) for kw in node.keywords if kw.arg == "schema"), None)
                found.append(
                    ModelTable(
                        name,
                        schema if isinstance(schema, str) else None,
                        "Table()",
                        str(path),
                        node.lineno,
                        module,
                    )
                )
    return found


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def python_files(root: Path, exclude: list[Path], skipped: list[UnsafeFile] | None = None) -> list[Path]:
    """The project's own regular .py files inside ``root``, skipping environments, hidden folders, tests and
    ``exclude``; links out of the project, special and oversized files go to ``skipped``."""
    root = root.resolve()
    excluded = {p.resolve() for p in exclude}
    out: list[Path] = []
    skipped = skipped if skipped is not None else []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in SKIP_DIRS
            and (here / d).resolve() not in excluded
            and not (here / d / "pyvenv.cfg").exists()
        )
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            problem = check_source_file(here / name, root)
            if problem is None and (here / name).stat().st_size > MAX_BYTES:
                problem = UnsafeFile(here / name, "oversized-file", f"is over {MAX_BYTES} bytes")
            if problem is not None:
                skipped.append(problem)
                continue
            out.append(here / name)
            if len(out) >= MAX_FILES:
                return out
    return out


def scan_models(root: Path | str, exclude: list[Path] | None = None) -> list[ModelTable]:
    """Every table declared in the project's Python files (outside ``exclude``, e.g. migrations)."""
    return scan_models_and_skips(root, exclude)[0]


def scan_models_and_skips(
    root: Path | str, exclude: list[Path] | None = None
) -> tuple[list[ModelTable], list[UnsafeFile]]:
    """The tables declared in the project's Python files, and the files skipped as unsafe to read."""
    root = Path(root).resolve()
    tables: list[ModelTable] = []
    skipped: list[UnsafeFile] = []
    for path in python_files(root, exclude or [], skipped):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "__tablename__" not in source and "Table(" not in source:
            continue
        tables.extend(tables_in_source(source, path, module_name(root, path)))
    return tables, skipped[:MAX_SKIPPED_REPORTED]


def defines_tables(path: Path) -> bool:
    """Whether one file declares at least one table (a model module); never reads a special file."""
    if check_source_file(path, path.parent.resolve()) is not None or path.stat().st_size > MAX_BYTES:
        return False
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "__tablename__" not in source and "Table(" not in source:
        return False
    return bool(tables_in_source(source, path, ""))
