"""The layer map of ARCHITECTURE.md holds: import-linter's contracts in pyproject.toml are all kept."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.subprocess


def _package_tree(dest: Path) -> Path:
    """server/ and tools/ under their installed names, as links (the package-dir mapping hides them)."""
    package = dest / "alembic_mcp"
    package.mkdir()
    for name in ("__init__.py", "py.typed"):
        os.symlink(REPO / "alembic_mcp_pkg" / name, package / name)
    os.symlink(REPO / "server", package / "server")
    os.symlink(REPO / "tools", package / "tools")
    return dest


def test_import_contracts_are_kept(tmp_path):
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is a test dependency: pip install -e '.[test]'"
    tree = _package_tree(tmp_path)
    result = subprocess.run(
        [lint_imports, str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), result.stdout[-4000:]
