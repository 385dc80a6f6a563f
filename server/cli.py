"""The ``alembic-mcp`` command line: ``serve`` plus one subcommand per tool for humans and CI.

Exit codes: 0 proceed, 1 fix, 2 escalate, 3 could not run (a usage error, an unreadable project or a
crash: one line on stderr, never a traceback). mcp is imported only by ``serve``, so the tool
subcommands start fast.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic_mcp.tools.core.config import Project

from alembic_mcp.server.approve import add_arguments as approve_arguments

EXIT_CODES = {"proceed": 0, "fix": 1, "escalate": 2}
EXIT_COULD_NOT_RUN = 3
EXIT_CODES_HELP = (
    "exit codes: 0 proceed, 1 fix (apply the findings' fixes), 2 escalate (a human must decide), "
    "3 could not run (usage error, unreadable project, unexpected error)"
)

# Subcommands with CI output formats (--format sarif|junit|github); every subcommand has --json.
CI_FORMAT_COMMANDS = {"review-migration", "test-roundtrip", "check-heads"}
FORMATS = ("sarif", "junit", "github")

ToolRunner = Callable[["Project", argparse.Namespace], Awaitable[Any]]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], ToolRunner]] = {}


def command(name: str, help_text: str, add_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    """Register ``fn(project, args)`` as the subcommand ``name``."""

    def decorator(fn: ToolRunner) -> ToolRunner:
        COMMANDS[name] = (help_text, add_arguments, fn)
        return fn

    return decorator


class UsageError(Exception):
    """Arguments that parse but do not go together (exit 3, like argparse's own usage errors)."""


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 3 ("could not run"), never 2, the code for "escalate"."""

    def error(self, message: str):
        self.exit(EXIT_COULD_NOT_RUN, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "y"):
        return True
    if value.lower() in ("0", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _backup_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label", default=None, help="Short name, e.g. before-drop-legacy-users.")
    parser.add_argument(
        "--verify",
        choices=["list", "restore"],
        default="list",
        help="list (default): check the archive is complete; restore: also restore it into a scratch database.",
    )
    parser.add_argument("--tables", nargs="+", default=None, help="Back up only these tables.")


@command("backup-db", "Back up the target database (verified, with a manifest).", _backup_args)
async def _backup_db(project: Project, args: argparse.Namespace):
    from alembic_mcp.tools.backup.tool import backup_db

    return await backup_db(project, label=args.label, verify=args.verify, tables=args.tables, progress=args.progress)


@command("list-backups", "List the complete backups, newest first (read-only).")
async def _list_backups(project: Project, args: argparse.Namespace):
    from alembic_mcp.tools.backup.listing import list_backups

    return await list_backups(project, args.progress)


@command("check-heads", "Heads, branches and the database's revision (read-only).")
async def _check_heads(project: Project, args: argparse.Namespace):
    from alembic_mcp.tools.heads.check import check_heads

    return await check_heads(project, args.progress)


def _merge_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--heads", nargs="*", default=None, help="Heads to merge (default: all).")
    parser.add_argument("--message", "-m", default="merge heads", help="Message of the merge revision.")
    parser.add_argument("--dry-run", action="store_true", help="Write nothing; show the merge file.")
    parser.add_argument(
        "--acknowledge-conflicts", action="store_true", help="A human confirmed the conflicting heads may be merged."
    )


@command("merge-heads", "Write a merge revision for several heads and rehearse it.", _merge_args)
async def _merge_heads(project: Project, args: argparse.Namespace):
    from alembic_mcp.tools.heads.merge import merge_heads

    return await merge_heads(
        project,
        heads=args.heads,
        message=args.message,
        dry_run=args.dry_run,
        acknowledge_conflicts=args.acknowledge_conflicts,
        progress=args.progress,
    )


def _generate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--message", "-m", required=True, help="Description of the change.")
    parser.add_argument("--autogenerate", type=_bool, default=True, help="true (default) or false.")
    parser.add_argument("--rev-id", default=None, help="Revision id to use (default: Alembic picks one).")
    parser.add_argument("--dry-run", action="store_true", help="Write nothing; show the file and its review.")
    parser.add_argument(
        "--against",
        choices=["scratch", "target"],
        default="scratch",
        help="Compare the models with a scratch database at head (default) or the target (must be at head).",
    )
    parser.add_argument(
        "--fix", action="store_true", help="Apply the review's mechanical fixes to the new file and rehearse it."
    )


@command("generate-migration", "Autogenerate a migration, review it, list the files to commit.", _generate_args)
async def _generate_migration(project: Project, args: argparse.Namespace):
    from alembic_mcp.server.rehearsal import rehearse_changed
    from alembic_mcp.tools.generate.tool import generate_migration

    return await generate_migration(
        project,
        message=args.message,
        autogenerate=args.autogenerate,
        rev_id=args.rev_id,
        dry_run=args.dry_run,
        against=args.against,
        progress=args.progress,
        apply_fixes=args.fix,
        rehearse=rehearse_changed,
    )


def _roundtrip_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--revision", default="heads", help="Last revision to test (default: heads).")
    parser.add_argument("--from-revision", default=None, help="Start revision (default: the target's).")
    parser.add_argument("--seed-rows", type=int, default=20, help="Generated rows per table (default 20).")
    parser.add_argument(
        "--data-from",
        choices=["seed", "target"],
        default="seed",
        help="seed (default): generated rows; target: a read-only copy of the target's data.",
    )
    parser.add_argument(
        "--trace-locks", type=_bool, default=True, help="PostgreSQL: report locks and rewrites (default true)."
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="Seconds (default 300).")


@command("test-roundtrip", "Upgrade/downgrade/upgrade each revision on a scratch database.", _roundtrip_args)
async def _test_roundtrip(project: Project, args: argparse.Namespace):
    from alembic_mcp.server.rehearsal import review_escalations
    from alembic_mcp.tools.roundtrip.tool import test_roundtrip

    return await test_roundtrip(
        project,
        revision=args.revision,
        from_revision=args.from_revision,
        seed_rows=args.seed_rows,
        data_from=args.data_from,
        trace_locks=args.trace_locks,
        timeout_s=args.timeout,
        progress=args.progress,
        review=functools.partial(review_escalations, project),
    )


def _review_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--revision",
        "-r",
        default=None,
        help="Revision id, prefix, head(s) or range like base:head (default: not yet applied).",
    )
    parser.add_argument("--path", default=None, help="One migration file inside the versions directory.")
    parser.add_argument("--include-sql", action="store_true", help="Include the offline-rendered SQL.")
    parser.add_argument(
        "--changed-since",
        metavar="REF",
        default=None,
        help="Review the revisions changed since this git ref (e.g. origin/main) and check the commit rules.",
    )
    parser.add_argument(
        "--detail",
        choices=("summary", "full"),
        default="summary",
        help="summary (default): statements needing attention only; full: every statement's coverage.",
    )
    parser.add_argument(
        "--fix",
        action="store_true",
        help="Apply the mechanical fixes, review again and rehearse (each failing fix undone).",
    )
    parser.add_argument("--diff", action="store_true", help="With --fix: only show the fixes' diffs, write nothing.")
    parser.add_argument(
        "--split", action="store_true", help="With --fix: add, backfill and NOT NULL as three revisions."
    )
    parser.add_argument(
        "files",
        nargs="*",
        help="Migration files to review, one review each, relative to the current directory (how pre-commit "
        "passes the changed files); the exit code is the worst verdict's.",
    )


@command(
    "review-migration", "Review migrations for dangerous operations; --fix applies the mechanical fixes.", _review_args
)
async def _review_migration(project: Project, args: argparse.Namespace):
    from pathlib import Path

    from alembic_mcp.tools.review.tool import review_migration

    if (args.diff or args.split) and not args.fix:
        raise UsageError("--diff and --split shape what --fix changes: give --fix too")
    if args.fix and args.files:
        raise UsageError("--fix works on --revision or --path, not on a list of files")
    if not args.files:
        from alembic_mcp.server.rehearsal import rehearse_changed

        return await review_migration(
            project,
            revision=args.revision,
            path=args.path,
            include_sql=args.include_sql,
            progress=args.progress,
            changed_since=args.changed_since,
            detail=args.detail,
            apply_fixes=args.fix,
            diff_only=args.diff,
            rehearse=rehearse_changed if args.fix else None,
            split=args.split,
        )
    if args.revision or args.path or args.changed_since:
        raise UsageError("give migration files, or --revision/--path/--changed-since, not both")
    return [
        await review_migration(
            project,
            path=str(Path(file).resolve()),
            include_sql=args.include_sql,
            progress=args.progress,
            detail=args.detail,
        )
        for file in args.files
    ]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", help="Project folder holding alembic.ini (default: .).")
    parser.add_argument("--database-url", default=None, help="Target database (overrides the config).")
    parser.add_argument("--scratch-url", default=None, help="Server for scratch databases.")
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="Refuse every write (migrations, merges, backups)."
    )


def build_parser() -> argparse.ArgumentParser:
    from alembic_mcp import __version__

    parser = Parser(prog="alembic-mcp", description="Safe Alembic migrations for AI agents.", epilog=EXIT_CODES_HELP)
    parser.add_argument("--version", action="version", version=f"alembic-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="Run the MCP server.")
    _add_common(serve)
    serve.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="stdio (default) or streamable HTTP."
    )
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1).")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000).")
    serve.add_argument(
        "--auth-token-env",
        default=None,
        help="HTTP only: name of an environment variable holding a bearer token to require.",
    )
    serve.add_argument("--tools", nargs="+", default=None, help="Expose only these tools (default: all).")
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="HTTP beyond loopback without --auth-token-env (only behind a proxy that authenticates).",
    )
    serve.add_argument(
        "--allowed-hosts",
        nargs="+",
        default=[],
        help="HTTP: Host names to accept (Host/Origin checked); for binds beyond loopback.",
    )
    approve = sub.add_parser(
        "approve", help="A human approves one escalation (interactive terminal only; recorded in the repository)."
    )
    _add_common(approve)
    approve_arguments(approve)
    demo = sub.add_parser("demo", help="Run the six tools over MCP on a copy of the bundled example (SQLite).")
    demo.add_argument("--keep", action="store_true", help="Keep the demo project folder for inspection.")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES_HELP)
        _add_common(p)
        p.add_argument("--json", action="store_true", help="Print the verdict as JSON (same as --format json).")
        if name in CI_FORMAT_COMMANDS:
            p.add_argument(
                "--format",
                choices=["text", "json", *FORMATS],
                default=None,
                help="text (default), json, sarif (code scanning), junit (test reports) or github (workflow "
                "annotations); printed on stdout, the exit code is the verdict's.",
            )
        add_arguments(p)
    return parser


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "database_url": args.database_url,
        "scratch_url": args.scratch_url,
        "read_only": args.read_only,
        "tools": getattr(args, "tools", None),
    }


def run_command(args: argparse.Namespace) -> int:
    # Start the worker first: its interpreter and Alembic import overlap with our own imports below.
    from alembic_mcp.tools.worker.interpreter import WorkerPythonNotFound, find_worker_python
    from alembic_mcp.tools.worker.prestart import prestart

    try:  # the [tool.alembic-mcp] worker_python is read later; a mismatch only costs this warm start
        prestart(find_worker_python(args.project, os.environ.get("ALEMBIC_MCP_WORKER_PYTHON")).path)
    except (WorkerPythonNotFound, OSError, TypeError):
        pass
    if args.command == "check-heads":  # hand the worker its request before the imports below
        from alembic_mcp.tools.heads.cold import send_history_request

        send_history_request(args.project, overrides_from(args))
    try:
        return _run_tool(args)
    finally:
        from alembic_mcp.tools.worker.early import discard

        discard()  # an early request the call never reached (it stopped before its worker)


def _run_tool(args: argparse.Namespace) -> int:
    import anyio

    from alembic_mcp.server.terminal import terminal_progress
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.core.errors import AlembicMcpError
    from alembic_mcp.tools.core.urls import redact

    _, _, runner = COMMANDS[args.command]
    fmt = output_format(args)
    project = None
    args.progress = terminal_progress()
    try:
        project = load_project(args.project, overrides_from(args))
        outcome = anyio.run(runner, project, args)
    except (AlembicMcpError, UsageError) as exc:
        message = redact(str(exc), project.database_url if project else args.database_url)
        if fmt == "json":
            print(json.dumps({"error": message}))
        else:
            print(f"error: {message}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    results = outcome if isinstance(outcome, list) else [outcome]
    sys.stdout.write(format_results(fmt, args.command, results, project, several=isinstance(outcome, list)))
    sys.stdout.flush()
    _wait_for_scratch_drops()
    return max((EXIT_CODES[result.verdict] for result in results), default=0)


def _wait_for_scratch_drops() -> None:
    """A scratch database dropped after the result (``scratch_later``) is gone before the command exits;
    a command that made none never imports the module."""
    later = sys.modules.get("alembic_mcp.tools.db.scratch_later")
    if later is not None:
        later.wait_for_drops()


def output_format(args: argparse.Namespace) -> str:
    """--format wins; --json means json; else text."""
    chosen = getattr(args, "format", None)
    return chosen or ("json" if args.json else "text")


def format_results(fmt: str, command: str, results: list[Any], project: Project, several: bool) -> str:
    """The results in ``fmt``: one document even for several results (a JSON list, SARIF runs, JUnit suites)."""
    if fmt == "json":
        dumped = [result.model_dump(mode="json") for result in results]
        return json.dumps(dumped if several else dumped[0], indent=2) + "\n"
    if fmt == "text":
        from alembic_mcp.server.render import render_result

        return "\n".join(render_result(command, result) for result in results)
    import os
    from pathlib import Path

    from alembic_mcp.server.formats import Locator, render_format

    config = project.alembic_ini or project.toml_file
    anchor = os.path.relpath(config, project.root) if config is not None else "alembic.ini"
    locator = Locator(project_root=Path(project.root), cwd=Path.cwd(), anchor=anchor)
    return render_format(fmt, command, results, locator)


def serve(args: argparse.Namespace) -> int:
    from alembic_mcp.server.transports import HttpAccess, run_server
    from alembic_mcp.tools.core.config import load_project
    from alembic_mcp.tools.core.errors import AlembicMcpError
    from alembic_mcp.tools.core.urls import redact

    try:
        load_project(args.project, overrides_from(args))
        access = HttpAccess(args.auth_token_env, args.allow_unauthenticated, args.allowed_hosts)
        return run_server(args.project, overrides_from(args), args.transport, args.host, args.port, access=access)
    except AlembicMcpError as exc:
        print(f"error: {redact(str(exc), args.database_url)}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("alembic-mcp: interrupted", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    except Exception as exc:  # a crash: one line, never a traceback, never an exit code that means a verdict
        print(f"alembic-mcp: could not run: {_one_line(exc, args)}", file=sys.stderr)
        return EXIT_COULD_NOT_RUN


def _one_line(exc: BaseException, args: argparse.Namespace) -> str:
    """The innermost cause of ``exc`` (the first leaf of an exception group) on one line, password masked."""
    from alembic_mcp.tools.core.urls import redact

    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split()) or "(no message)"
    return redact(
        f"{type(exc).__name__}: {text}"[:500], getattr(args, "database_url", None), getattr(args, "scratch_url", None)
    )


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return serve(args)
    if args.command == "approve":
        from alembic_mcp.server.approve import approve

        return approve(args, overrides_from(args))
    if args.command == "demo":
        from alembic_mcp.server.demo import demo

        return demo(keep=args.keep)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
