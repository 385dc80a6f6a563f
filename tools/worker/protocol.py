"""The typed messages between the server and a worker process, shared by both sides.

The server writes a ``WorkerRequest`` as JSON on the worker's stdin; the worker writes a
``WorkerReply`` as JSON to ``request.result_path``. Each op's arguments are a dataclass too. Only
the standard library is used here: this module is loaded by path into the project's own
interpreter, which has nothing of ours installed. ``OPS`` is the registry of operations a request
may name (op name = module under ``alembic_mcp.tools.worker.ops``); nothing else is imported by name.
"""

from __future__ import annotations

import json
import os
import traceback
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Union

# What the worker side supports in the project's interpreter (checked before any op runs).
MIN_PYTHON = (3, 9)
SUPPORTED_SQLALCHEMY: tuple[tuple[int, int], tuple[int, int] | None] = ((1, 4), (3, 0))  # >= 1.4, < 3.0
SUPPORTED_ALEMBIC: tuple[tuple[int, int], tuple[int, int] | None] = ((1, 9), None)  # >= 1.9
UNSUPPORTED_ENVIRONMENT = "UnsupportedEnvironment"  # ``ErrorInfo.type`` when the interpreter cannot run ops


# ------------------------------------------------------------------ each op's arguments


@dataclass
class HistoryArgs:
    """Load every revision file; ``check_env``: also run env.py offline to prove it imports."""

    check_env: bool = True


@dataclass
class RenderSqlArgs:
    """Render revisions offline (``alembic upgrade --sql``)."""

    revisions: list[list[str | None]]  # [revision, its down_revision or None], upgrade order
    chain: bool = False  # a linear selection: one offline run, cut per revision
    paths: list[str] | None = None  # load only these files (a stretch of the history)
    extra_paths: list[str] = field(default_factory=list)  # files not in the versions folder yet


@dataclass
class GenerateArgs:
    """Write a revision with ``command.revision`` (autogenerate against ``request.database_url``)."""

    message: str
    autogenerate: bool = True
    rev_id: str | None = None
    dry_run: bool = False
    version_table: str = "alembic_version"
    render_url: str | None = None  # also render the new revision offline with this URL
    upgrade_first: bool = False  # the database is a scratch database: bootstrap and upgrade it first
    bootstrap: str | None = None  # the bootstrap setting: module:function or a .sql file
    read_only: bool = False  # the database is the target: every session this worker opens is read-only


@dataclass
class MergeArgs:
    """Write a merge revision; rehearse ``upgrade heads`` on ``scratch_url`` when given."""

    heads: list[str]
    message: str
    rev_id: str | None = None
    dry_run: bool = False
    scratch_url: str | None = None
    bootstrap: str | None = None


@dataclass
class RoundtripArgs:
    """Upgrade, downgrade, upgrade each revision on the scratch database ``request.database_url``."""

    revisions: list[str]
    from_revision: list[str] = field(default_factory=list)
    prepare: str = "none"  # upgrade | downgrade | none: how to bring the scratch database to from_revision
    seed_rows: int = 0
    trace_locks: bool = False
    check_drift: bool = False
    progress_path: str | None = None
    total_steps: int = 1
    version_table: str = "alembic_version"
    bootstrap: str | None = None
    budget_s: float = 0.0  # start no new revision after this many seconds (0: no limit)


# typing.Union, not |: this module also runs in the project's interpreter, which may be older than ours.
OpArgs = Union[HistoryArgs, RenderSqlArgs, GenerateArgs, MergeArgs, RoundtripArgs]  # noqa: UP007

OPS: dict[str, type] = {
    "history": HistoryArgs,
    "render_sql": RenderSqlArgs,
    "generate": GenerateArgs,
    "merge": MergeArgs,
    "roundtrip": RoundtripArgs,
}


def op_args(op: str, args: Any) -> Any:
    """``args`` as the op's argument dataclass; ValueError for an unknown op or argument."""
    cls = OPS.get(op)
    if cls is None:
        raise ValueError(f"unknown worker op {op!r}; known: {', '.join(sorted(OPS))}")
    if isinstance(args, cls):
        return args
    unknown = sorted(set(args or {}) - {f.name for f in fields(cls)})
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)} for worker op {op!r}")
    return cls(**(args or {}))


@dataclass(frozen=True)
class ProjectSpec:
    """What a worker needs to rebuild the project's Alembic ``Config``."""

    project_dir: str
    alembic_ini: str | None = None
    toml_file: str | None = None
    ini_section: str = "alembic"
    url_env_vars: list[str] = field(default_factory=lambda: ["DATABASE_URL"])


@dataclass
class WorkerRequest:
    """One operation to run in a fresh interpreter."""

    op: str
    project: ProjectSpec
    result_path: str
    args: Any = None  # the op's argument dataclass (see OPS); a dict is converted on reading
    database_url: str | None = None
    cwd: str | None = None
    sys_path: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    unset_env: list[str] = field(default_factory=list)  # variables that lead to the target: removed first
    track_inputs: bool = False  # report the files read and folders listed (inputs.py), for reply_cache

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkerRequest:
        """The typed request; ValueError or TypeError for an unknown op or bad arguments."""
        data = dict(data)
        data["project"] = ProjectSpec(**data["project"])
        data["args"] = op_args(data["op"], data.get("args"))
        return cls(**data)


@dataclass
class ErrorInfo:
    """An exception raised in the worker: its type, message and the innermost line in the project."""

    type: str
    message: str
    file: str | None = None
    line: int | None = None
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        return cls(**describe_exception(exc))


@dataclass
class RuntimeInfo:
    """The interpreter an op ran in and the Alembic and SQLAlchemy versions it found there."""

    python: str
    python_version: str
    alembic_version: str | None
    sqlalchemy_version: str | None


@dataclass
class WorkerReply:
    """What the worker writes to ``result_path``: the op's result or the error that stopped it."""

    ok: bool
    runtime: RuntimeInfo
    result: dict[str, Any] | None = None
    error: ErrorInfo | None = None
    inputs: dict[str, Any] | None = None  # with track_inputs: what the op read (inputs.stop())

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, raw: str) -> WorkerReply:
        data = json.loads(raw)
        error = data.get("error")
        return cls(
            ok=bool(data["ok"]),
            runtime=RuntimeInfo(**data["runtime"]),
            result=data.get("result"),
            error=ErrorInfo(**error) if error else None,
            inputs=data.get("inputs"),
        )


def describe_exception(exc: BaseException, extra_roots: tuple[str, ...] = ()) -> dict[str, Any]:
    """Type, message, and the innermost file/line inside the user's project (the working directory, or
    one of ``extra_roots``: e.g. a sandbox copy of its migrations), if any."""
    info: dict[str, Any] = {"type": type(exc).__name__, "message": exception_message(exc)}
    if isinstance(exc, SyntaxError) and exc.filename:
        info["file"], info["line"] = exc.filename, exc.lineno
    else:
        roots = (os.getcwd(), *extra_roots)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.startswith(roots):
                info["file"], info["line"] = frame.filename, frame.lineno
                break
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    info["traceback"] = "".join(lines)[-6000:]
    return info


def exception_message(exc: BaseException) -> str:
    """``str(exc)``; when it says nothing (``SQLAlchemyError: ()``), the exception it was raised from."""
    text = str(exc)
    if any(ch.isalnum() for ch in text):
        return text
    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return text or type(exc).__name__
    return f"{text or type(exc).__name__} (raised from {type(cause).__name__}: {exception_message(cause)})"


def version_tuple(version: str) -> tuple[int, int]:
    """``"1.4.54"`` -> ``(1, 4)``; pre-release suffixes are ignored."""
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit()) if not piece.isdigit() else piece
        parts.append(int(digits or 0))
    while len(parts) < 2:
        parts.append(0)
    return parts[0], parts[1]


def supported_range_text() -> str:
    def describe(name: str, low: tuple[int, int], high: tuple[int, int] | None) -> str:
        return f"{name} >= {low[0]}.{low[1]}" + (f" and < {high[0]}.{high[1]}" if high else "")

    return ", ".join(
        (
            f"Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}",
            describe("SQLAlchemy", *SUPPORTED_SQLALCHEMY),
            describe("Alembic", *SUPPORTED_ALEMBIC),
        )
    )
