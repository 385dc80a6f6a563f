"""The project modules a migration imports run their module body on import: it is read like the migration's own.

Each import of the migration (at module level or inside a function) is resolved as Python would resolve it
from the project's folders (its root, the migrations folder): the package's ``__init__.py`` files on the way
and the module itself, a package and a module of the same name both, and what those import from the project
in turn. A body that does more than import, define functions and classes and bind names to values shown
not to touch the database (the migration's own module-level standard, dynamic.py) escalates as
``module-level-code``, as does a body that assigns to another module's attribute (``sa.text = ...``) or
cannot be parsed.

Modules found only in the project's virtualenv are installed packages (``import sqlalchemy``): their
import-time code is the package's, chosen when it was installed, and is not read here.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

from alembic_mcp.tools.history.nodes import walk
from alembic_mcp.tools.review.rules.dynamic import MODULE_LEVEL_CODE, _module_code, _module_values, _Scan
from alembic_mcp.tools.review.rules.effects import Sources
from alembic_mcp.tools.review.rules.registry import on_file

MAX_MODULES = 200  # project files read per migration (a project's own import graph)


def project_roots(sources: Sources | None) -> list[Path]:
    """The project's folders among the helpers' roots: everything but the virtualenv's site-packages."""
    return [root for root in (sources.roots if sources else ()) if root.name != "site-packages"]


def module_files(roots: list[Path], dotted: str) -> list[Path]:
    """The files importing ``dotted`` runs from the project: each package's ``__init__.py`` on the way and the
    module, in the first root that holds each; a package and a same-named module both (whichever Python
    picks, both are read)."""
    files: list[Path] = []
    parts = [p for p in dotted.split(".") if p]
    for depth in range(1, len(parts) + 1):
        relative = Path(*parts[:depth])
        for root in roots:
            found = [p for p in (root / relative / "__init__.py", root / relative.with_suffix(".py")) if p.is_file()]
            if found or (root / relative).is_dir():
                files += found
                break
    return files


def imported_names(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, dotted module) for every import in ``tree``; ``from a import b`` also names ``a.b`` (a submodule)."""
    out: list[tuple[int, str]] = []
    for node in walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.module, node.level)
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}" if base else a.name) for a in node.names if a.name != "*"]
    return [(line, name) for line, name in out if name]


def _absolute(package: str, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


def _package_of(path: Path, roots: list[Path]) -> str:
    """The dotted package a project file belongs to (for its relative imports)."""
    for root in roots:
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            return ".".join(parts if path.name == "__init__.py" else parts[:-1])
    return ""


def import_time_code(path: Path, sources: Sources) -> list[tuple[int, str]]:
    """(line, what) for each statement of the module's body that runs more than definitions when imported."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
        return [(1, f"cannot be read ({type(exc).__name__})")]
    module = SimpleNamespace(tree=tree, path=path, ops=[])
    scan = _Scan(SimpleNamespace(migration=module, sources=sources))
    known = _module_values(tree) | set(scan.imports)
    return sorted(set(_module_code(scan, known, tree.body)) | set(_patches(tree)))


def _patches(tree: ast.Module) -> list[tuple[int, str]]:
    """Module-level assignments to an attribute or item (``sa.text = ...``): they change another module."""
    out = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                patched = [n for n in walk(target) if isinstance(n, ast.Attribute | ast.Subscript)]
                if patched:
                    out.append((stmt.lineno, f"assigns `{ast.unparse(patched[0])}` when imported"))
    return out


def project_import_code(tree: ast.AST, path: Path | None, sources: Sources | None) -> list[tuple[int, Path, int, str]]:
    """(import line in the migration, project file, line there, what) for the project modules it imports."""
    roots = project_roots(sources)
    if not roots or sources is None:
        return []
    package = _package_of(path, roots) if path is not None else ""
    queue = imported_names(tree, package)
    seen: set[Path] = {path.resolve()} if path is not None else set()
    out: list[tuple[int, Path, int, str]] = []
    while queue and len(seen) < MAX_MODULES:
        line, name = queue.pop(0)
        if name not in sources.module_files:
            sources.module_files[name] = module_files(roots, name)
        for file in sources.module_files[name]:
            if file.resolve() in seen:
                continue
            seen.add(file.resolve())
            if file not in sources.import_code:  # read once per review, whichever migration imports it first
                sources.import_code[file] = import_time_code(file, sources)
                sources.imported[file] = imported_names(_parsed(file), _package_of(file, roots))
            out += [(line, file, where, what) for where, what in sources.import_code[file]]
            queue += [(line, dotted) for _, dotted in sources.imported[file]]
    return out


def _parsed(path: Path) -> ast.AST:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return ast.Module(body=[], type_ignores=[])


@on_file
def project_module_code(state) -> None:
    """An import of a project module whose body runs code: a human must read what the import runs."""
    path = state.migration.path
    found = project_import_code(state.migration.tree, Path(path) if path else None, state.sources)
    first = {(line, file, where): what for line, file, where, what in reversed(found)}  # one per module line
    for (line, file, where), what in sorted(first.items(), key=lambda item: (item[0][0], str(item[0][1]), item[0][2])):
        shown = _shown(file, state.sources)
        state.emit(
            MODULE_LEVEL_CODE,
            None,
            f"Line {line} imports {shown}, whose line {where} {what}; the review does not run it.",
            MODULE_LEVEL_CODE.fix(),
            line=line,
            escalation=(
                f"Line {line} imports {shown}: its line {where} {what}; a human must read it.",
                {"line": line, "module_file": shown, "module_line": where, "what": what},
            ),
        )


def _shown(file: Path, sources: Sources | None) -> str:
    for root in project_roots(sources):
        if file.is_relative_to(root):
            return str(file.relative_to(root))
    return str(file)
