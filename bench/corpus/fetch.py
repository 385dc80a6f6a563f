"""Build the real-world corpus: one self-contained Alembic project per history of manifest.toml.

For each history: `pip download` its wheel (no dependencies) into <cache>/wheels, extract the migrations
folder into <cache>/projects/<name>/migrations, write an alembic.ini (and a [tool.alembic-mcp] pyproject
when the history needs settings), and make the project venv <cache>/projects/<name>/.venv holding the
package WITH its dependencies plus the PostgreSQL drivers, the way a user of that application has it. alembic-mcp
finds that `.venv/` and runs its worker there; the venv holds nothing of alembic-mcp.

    python bench/corpus/fetch.py [--cache DIR] [--only NAME ...] [--install-timeout S] [--no-venv]

The cache defaults to ~/.cache/alembic-mcp-corpus (or $ALEMBIC_MCP_CORPUS_CACHE). A venv whose install
fails, times out or grows past the size cap is dropped, and the project gets the minimal env.py instead
(recorded in <project>/corpus.json, which run.py reports).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.toml"
DEFAULT_CACHE = Path(os.environ.get("ALEMBIC_MCP_CORPUS_CACHE", "~/.cache/alembic-mcp-corpus")).expanduser()
VENV_SIZE_CAP = int(1.5 * 1024**3)
# SQLAlchemy 2.1 defaults postgresql:// to psycopg 3, older ones to psycopg2. Installed with --no-deps after the
# application so they never move its pins (indico pins typing-extensions below what psycopg 3 asks for).
DRIVERS = ("psycopg2-binary", "psycopg", "psycopg-binary")

ALEMBIC_INI = """\
# Written by bench/corpus/fetch.py for the {name} history ({dist}=={version}).
[alembic]
script_location = %(here)s/migrations
{version_locations}prepend_sys_path = .
path_separator = os

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = WARNING
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
"""

MINIMAL_ENV = '''\
"""Minimal env.py (bench/corpus): the application's models are absent, so target_metadata is None."""

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = None


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

FLASK_ADAPTER_ENV = '''\
"""Adapter env.py (bench/corpus): runs {dist}'s own env.py (env_upstream.py, unchanged) inside its Flask
application, as `{dist}`'s own `db upgrade` command does, with the application's database URI set to the
URL Alembic was given."""

import runpy
from importlib import import_module
from pathlib import Path

from alembic import context

module_name, factory_name = "{app}".split(":")
app = getattr(import_module(module_name), factory_name)()
url = context.config.get_main_option("sqlalchemy.url")
if url:
    app.config["SQLALCHEMY_DATABASE_URI"] = url
with app.app_context():
{setup}    runpy.run_path(str(Path(__file__).with_name("env_upstream.py")), run_name="env_upstream")
'''


def load_manifest() -> list[dict]:
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))["history"]


def download_wheel(entry: dict, wheels: Path) -> Path:
    """The history's wheel in the cache, downloaded (without dependencies) when missing."""
    found = sorted(wheels.glob(entry["wheel_glob"]))
    if not found:
        spec = f"{entry['dist']}=={entry['version']}"
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", spec]
        subprocess.run([*command, "-d", str(wheels)], check=True, timeout=600)
        found = sorted(wheels.glob(entry["wheel_glob"]))
    if not found:
        raise RuntimeError(f"no wheel matching {entry['wheel_glob']} after downloading")
    return found[0]


def extract_migrations(wheel: Path, entry: dict, project: Path) -> int:
    """The migrations folder, as shipped, into ``project/migrations``; returns the number of revision files."""
    target = project / "migrations"
    if target.exists():
        shutil.rmtree(target)
    prefix = entry["migrations"].rstrip("/") + "/"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(prefix) and not member.endswith("/") and "__pycache__" not in member:
                destination = target / member[len(prefix) :]
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(archive.read(member))
    versions = target / entry.get("versions", "versions")
    return sum(1 for path in versions.rglob("*.py") if path.name != "__init__.py")


def make_venv(entry: dict, project: Path, timeout_s: float) -> dict:
    """The project venv with the package and its dependencies; ``{"ok": False, ...}`` when too heavy."""
    venv = project / ".venv"
    python = venv / "bin" / "python"
    if python.exists() and _installed(python, entry["dist"]) == entry["version"]:
        return {"ok": True, "reused": True, "size_bytes": _size(venv)}
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "-q"]
    try:
        done = subprocess.run([*pip, *entry["install"]], capture_output=True, text=True, timeout=timeout_s)
        if done.returncode == 0:
            done = subprocess.run([*pip, "--no-deps", *DRIVERS], capture_output=True, text=True, timeout=timeout_s)
        error = None if done.returncode == 0 else _last_error(done.stderr)
    except subprocess.TimeoutExpired:
        error = f"pip install took more than {timeout_s:.0f} s"
    size = _size(venv)
    if error is None and size > VENV_SIZE_CAP:
        error = f"the venv holds {size / 1024**3:.1f} GB (cap 1.5 GB)"
    seconds = round(time.monotonic() - started)
    if error is not None:
        shutil.rmtree(venv, ignore_errors=True)
        return {"ok": False, "error": error, "seconds": seconds}
    return {"ok": True, "seconds": seconds, "size_bytes": size}


def _installed(python: Path, dist: str) -> str | None:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
    return lines[-1][:300] if lines else "pip install failed"


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def write_env(entry: dict, project: Path, env_mode: str) -> None:
    """env.py as the project's mode says: the shipped one, the Flask adapter, or the minimal one."""
    env_py = project / "migrations" / "env.py"
    upstream = project / "migrations" / "env_upstream.py"
    if env_mode == "adapter":
        shutil.copyfile(env_py, upstream)
        setup = "".join(f"    {line}\n" for line in entry.get("adapter_setup", "").strip().splitlines())
        adapter = FLASK_ADAPTER_ENV.format(dist=entry["dist"], app=entry["adapter_app"], setup=setup)
        env_py.write_text(adapter, encoding="utf-8")
    elif env_mode == "minimal":
        shutil.copyfile(env_py, upstream)
        env_py.write_text(MINIMAL_ENV, encoding="utf-8")


def ensure_script_template(project: Path) -> list[str]:
    """script.py.mako as shipped, else Alembic's generic one (only `revision` needs it; noted)."""
    template = project / "migrations" / "script.py.mako"
    if template.exists():
        return []
    import alembic

    shutil.copyfile(Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako", template)
    return ["the wheel ships no script.py.mako: Alembic's generic template was put in its place"]


def write_config(entry: dict, project: Path, env_mode: str) -> None:
    """alembic.ini, and a pyproject.toml with the [tool.alembic-mcp] settings this history needs."""
    versions = entry.get("versions", "versions")
    locations = "" if versions == "versions" else f"version_locations = %(here)s/migrations/{versions}\n"
    ini = ALEMBIC_INI.format(name=entry["name"], dist=entry["dist"], version=entry["version"],
                             version_locations=locations)  # fmt: skip
    (project / "alembic.ini").write_text(ini, encoding="utf-8")
    settings = []
    if entry.get("bootstrap") and env_mode != "minimal":
        (project / "corpus_bootstrap.py").write_text(entry["bootstrap"].lstrip(), encoding="utf-8")
        settings.append(f'bootstrap = "{entry["bootstrap_callable"]}"')
    if entry.get("url_env_vars") and env_mode != "minimal":
        names = ", ".join(f'"{name}"' for name in entry["url_env_vars"])
        settings.append(f"url_env_vars = [{names}]")
    if entry.get("app_config"):
        home = project / ".app-home"
        for folder in ("cache", "tmp", "log", "archive"):
            (home / folder).mkdir(parents=True, exist_ok=True)
        text = entry["app_config"].lstrip().format(home=home)
        (project / entry["app_config_file"]).write_text(text, encoding="utf-8")
    pyproject = project / "pyproject.toml"
    pyproject.unlink(missing_ok=True)
    if settings:
        pyproject.write_text("[tool.alembic-mcp]\n" + "\n".join(settings) + "\n", encoding="utf-8")


def build_project(entry: dict, cache: Path, install_timeout: float, with_venv: bool) -> dict:
    """One history, ready to run; returns what corpus.json records about it."""
    project = cache / "projects" / entry["name"]
    project.mkdir(parents=True, exist_ok=True)
    wheel = download_wheel(entry, cache / "wheels")
    revisions = extract_migrations(wheel, entry, project)
    env_mode = entry["env"]
    venv = make_venv(entry, project, install_timeout) if with_venv else {"ok": False, "error": "--no-venv"}
    notes = [entry["why_minimal"]] if entry.get("why_minimal") else []
    if not venv["ok"] and env_mode != "minimal":
        notes.append(f"no project venv ({venv['error']}): measured with the minimal env.py, app models absent")
        env_mode = "minimal"
    write_env(entry, project, env_mode)
    notes += ensure_script_template(project)
    write_config(entry, project, env_mode)
    record = {"name": entry["name"], "dist": entry["dist"], "version": entry["version"], "wheel": wheel.name,
              "migrations": entry["migrations"], "revision_files": revisions, "env": env_mode,
              "venv": venv, "notes": notes}  # fmt: skip
    (project / "corpus.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", nargs="*", help="history names (default: all of the manifest)")
    parser.add_argument("--install-timeout", type=float, default=300.0, help="seconds per pip install")
    parser.add_argument("--no-venv", action="store_true", help="skip the project venvs (minimal env.py)")
    args = parser.parse_args(argv)
    cache = args.cache.expanduser()
    for entry in load_manifest():
        if args.only and entry["name"] not in args.only:
            continue
        record = build_project(entry, cache, args.install_timeout, not args.no_venv)
        venv = record["venv"]
        state = f"venv ok ({venv.get('size_bytes', 0) / 1024**2:.0f} MB)" if venv["ok"] else venv["error"]
        print(f"{record['name']:<10} {record['revision_files']:>4} revision files  env={record['env']:<8} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
