"""Run alembic-mcp over the real-world corpus that fetch.py built, and report per history.

For each history: its revision count; `alembic-mcp check-heads` against plain `alembic heads` (run in the
project venv) in the same run; `review-migration --revision base:heads` over the whole history (verdicts
per revision, findings by rule and severity); a whole-history `test-roundtrip` (base to heads) on
PostgreSQL, with a fresh empty target database that this script creates and drops. Every call is bounded.

    python bench/corpus/run.py [--cache DIR] [--only NAME ...] [--pg postgresql://postgres@127.0.0.1:5432]
                               [--roundtrip-timeout S] [--report FILE] [--summary FILE]
                               [--skip-review | --review-only]

``--review-only`` runs the review alone (no check-heads timing, no rehearsal): the precision measurement;
``--skip-review`` runs check-heads and the rehearsal only.

Prints one table per history, then a summary table; writes the full JSON report (default <cache>/report.json)
and a compact one without the per-finding lists (bench/corpus/results.json, committed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
from fetch import DEFAULT_CACHE, load_manifest

HERE = Path(__file__).resolve().parent
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432"
CALL_MARGIN_S = 120
HEADS_REPEATS = 2
MAX_ROUNDTRIP_CALLS = 24
UNPASSABLE_PHASES = ("prepare",)  # the start itself could not be reached: a new call would repeat it
RECORD_KEYS = ("name", "dist", "version", "env", "revision_files", "notes")
CALL_KEYS = (
    "from",
    "seconds",
    "seed_limitations",
    "verdict",
    "steps_run",
    "steps_planned",
    "summary",
    "error",
)  # on top of the tool's own timeout: startup, worker spawn, scratch cleanup


def alembic_mcp() -> str:
    """The CLI of the alembic-mcp installed next to this interpreter (the server's venv)."""
    beside = Path(sys.executable).with_name("alembic-mcp")
    return str(beside) if beside.exists() else shutil.which("alembic-mcp") or "alembic-mcp"


def timed(command: list[str], cwd: Path, env: dict[str, str], timeout_s: float) -> dict:
    """Run ``command``; its exit code, wall seconds, stdout and the tail of stderr (or a timeout)."""
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"rc": None, "seconds": round(time.monotonic() - started, 2), "timeout": True, "stdout": ""}
    return {
        "rc": done.returncode,
        "seconds": round(time.monotonic() - started, 2),
        "stdout": done.stdout,
        "stderr_tail": done.stderr[-2000:],
    }


def tool_json(result: dict) -> dict | None:
    try:
        return json.loads(result["stdout"]) if result.get("stdout") else None
    except json.JSONDecodeError:
        return None


def not_answered(report: dict | None, result: dict) -> str:
    """Why a tool gave no verdict: its own error message, its stderr, or the timeout."""
    if report and report.get("error"):
        return str(report["error"])
    return "timeout" if result.get("timeout") else str(result.get("stderr_tail", ""))[-600:]


class TargetDatabase:
    """A fresh, empty PostgreSQL database for one history, dropped on exit."""

    def __init__(self, server: str, name: str, driver: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.name = f"corpus_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        url = f"{self.server}/{self.name}"
        # the URL the tools get: SQLAlchemy 2.1 maps postgresql:// to psycopg 3, 1.4 to psycopg2
        self.url = url.replace("postgresql://", f"postgresql+{driver}://", 1) if driver else url

    def _admin(self, statement: str) -> None:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as connection:
            connection.execute(statement)

    def __enter__(self) -> TargetDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *_exc: object) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def project_env(entry: dict, project: Path) -> dict[str, str]:
    """The environment of every call: the app's own variables, its home folders inside the project (nothing
    written to the user's home), nothing pointing at a user's database."""
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "DATABASE_URL")}
    env.update(entry.get("worker_env", {}))
    home = project / ".app-home"
    env["XDG_CONFIG_HOME"] = str(home / "config")  # mlflow and zenml write their config there, not in ~/.config
    if entry.get("app_config_env"):
        env[entry["app_config_env"]] = str(project / entry["app_config_file"])
    for name in entry.get("worker_env_home", []):
        home.mkdir(exist_ok=True)
        env[name] = str(home)
    return env


def best_of(repeats: int, command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """The fastest of ``repeats`` runs (the machine is shared: the minimum is the least noisy figure)."""
    return min((timed(command, cwd, env, 300) for _ in range(repeats)), key=lambda result: result["seconds"])


def heads_timing(project: Path, env: dict, target: str) -> dict:
    """check-heads (with the target database) against plain `alembic heads`, same project, same run."""
    python = project / ".venv/bin/python"
    plain_command = [str(python) if python.exists() else sys.executable, "-m", "alembic", "heads"]
    ours_command = [alembic_mcp(), "check-heads", "--project", ".", "--database-url", target, "--json"]
    plain = best_of(HEADS_REPEATS, plain_command, project, env)
    ours = best_of(HEADS_REPEATS, ours_command, project, env)
    report = tool_json(ours) or {}
    return {
        "alembic_heads_s": plain["seconds"],
        "alembic_heads_out": plain.get("stdout", "").strip().splitlines(),
        "alembic_heads_rc": plain["rc"],
        "check_heads_s": ours["seconds"],
        "check_heads_rc": ours["rc"],
        "ratio": round(ours["seconds"] / plain["seconds"], 2) if plain["seconds"] else None,
        "verdict": report.get("verdict"),
        "revision_count": report.get("revision_count"),
        "heads": [head["revision"] for head in report.get("heads", [])],
        "findings": [(f["rule"], f["severity"], f["message"][:300]) for f in report.get("findings", [])],
        "worker": report.get("worker"),
        "summary": report.get("summary"),
        "stderr_tail": None if report else ours.get("stderr_tail"),
    }


def review_whole_history(project: Path, env: dict, target: str, timeout_s: float) -> dict:
    command = [alembic_mcp(), "review-migration", "--project", ".", "--revision", "base:heads", "--detail", "full"]
    result = timed([*command, "--database-url", target, "--json"], project, env, timeout_s)
    report = tool_json(result)
    if report is None or "verdict" not in report:
        return {"seconds": result["seconds"], "rc": result["rc"], "error": not_answered(report, result)}
    # Each finding and escalation is reported once, at the top level; its file names the revision.
    revision_of = {revision["file"]: revision["revision"] for revision in report.get("revisions", [])}
    findings = [{**finding, "revision": revision_of.get(finding.get("file"))} for finding in report.get("findings", [])]
    escalations = [
        {**escalation, "revision": (escalation.get("evidence") or {}).get("revision")}
        for escalation in report.get("escalations", [])
    ]
    return {
        "seconds": result["seconds"],
        "rc": result["rc"],
        "verdict": report["verdict"],
        "summary": report["summary"],
        "revisions_reviewed": len(report.get("revisions", [])),
        "verdicts": dict(Counter(revision["verdict"] for revision in report.get("revisions", []))),
        "by_severity": dict(Counter(finding["severity"] for finding in findings)),
        "by_rule": dict(Counter(f"{finding['rule']}/{finding['severity']}" for finding in findings).most_common()),
        "escalations_by_rule": dict(Counter(escalation["rule"] for escalation in escalations).most_common()),
        "findings": findings,
        "escalations": escalations,
    }


def roundtrip_call(project: Path, env: dict, target: str, start: str, timeout_s: float) -> dict:
    """One test-roundtrip call from ``start`` to heads, reduced to what the report keeps."""
    command = [alembic_mcp(), "test-roundtrip", "--project", ".", "--database-url", target]
    command += ["--from-revision", start, "--revision", "heads", "--timeout", str(int(timeout_s)), "--json"]
    result = timed(command, project, env, timeout_s + CALL_MARGIN_S)
    report = tool_json(result)
    if report is None or "verdict" not in report:
        return {"from": start, "seconds": result["seconds"], "rc": result["rc"], "error": not_answered(report, result)}
    return {
        "from": start,
        "seconds": result["seconds"],
        "rc": result["rc"],
        "verdict": report["verdict"],
        "summary": report["summary"],
        "steps_run": report.get("steps_run"),
        "steps_planned": report.get("steps_planned"),
        "revisions": report.get("revisions", []),
        "failures": failures_of(report),
        "seed_limitations": [
            {key: limit.get(key) for key in ("revision", "phase", "mode", "file", "line")}
            for limit in report.get("seed_limitations", [])
        ],
        "findings": [brief(finding) for finding in report.get("findings", [])],
        "escalations": report.get("escalations", []),
    }


def roundtrip_whole_history(project: Path, env: dict, target: str, budget_s: float) -> dict:
    """The whole history: the first call from base; after a failure at revision R, a new call from R (the
    way a user carries on), while the failures move forward and the budget lasts. The first call alone is
    what one test_roundtrip call gives."""
    calls = [roundtrip_call(project, env, target, "base", budget_s)]
    while (resume := resume_point(calls)) is not None and sum(call["seconds"] for call in calls) < budget_s:
        remaining = max(60.0, budget_s - sum(call["seconds"] for call in calls))
        calls.append(roundtrip_call(project, env, target, resume, remaining))
    first = calls[0]
    if "error" in first:
        return {**first, "calls": calls}
    planned = first["steps_planned"] or 0
    failures = [failure for call in calls for failure in call.get("failures", []) if failure.get("phase") != "prepare"]
    return {
        "seconds": round(sum(call["seconds"] for call in calls), 2),
        "verdict": first["verdict"],
        "summary": first["summary"],
        "coverage": {"steps_run": first["steps_run"], "steps_planned": planned},
        "coverage_all_calls": {
            "steps_run": sum(call.get("steps_run") or 0 for call in calls),
            "steps_planned": planned,
        },
        "failures": failures,
        "findings": first["findings"],
        "escalations": first["escalations"],
        "calls": [{key: call.get(key) for key in CALL_KEYS} for call in calls],
    }


def resume_point(calls: list[dict]) -> str | None:
    """The revision to start the next call from: the last call's failed revision, if it lies past where that
    call started. A failed upgrade is tried too (reaching it again runs without seed rows, so a seed-caused
    failure is passed); a failure while reaching the start ends the carrying on."""
    last = calls[-1]
    failed = [
        failure["revision"]
        for failure in last.get("failures", [])
        if failure.get("revision") and failure.get("phase") not in UNPASSABLE_PHASES
    ]
    if "error" in last or not failed or len(calls) >= MAX_ROUNDTRIP_CALLS:
        return None
    order = calls[0].get("revisions") or []
    position = {revision: index for index, revision in enumerate(order)}
    furthest = max(failed, key=lambda revision: position.get(revision, -1))
    started = position.get(last["from"], -1)
    if position.get(furthest, -1) <= started or furthest == order[-1]:
        return None
    return furthest


def brief(finding: dict) -> tuple:
    return (finding["rule"], finding["severity"], finding.get("file"), finding.get("line"), finding["message"][:400])


def failures_of(report: dict) -> list[dict]:
    """The failed steps: revision, direction, mode, where and the error's first line."""
    failures = list(report.get("failures") or ([report["failure"]] if report.get("failure") else []))
    failures += [step for step in report.get("steps", []) if step.get("status") == "failed" and step not in failures]
    keep = (
        "revision",
        "phase",
        "direction",
        "mode",
        "operation",
        "file",
        "line",
        "error",
        "facts",
        "on_seed_rows",
        "reproduced_without_seed_rows",
    )
    kept = [{key: failure.get(key) for key in keep if failure.get(key) is not None} for failure in failures]
    return [{**failure, "error": str(failure.get("error", ""))[:600]} for failure in kept]


def run_history(
    entry: dict, cache: Path, server: str, timeouts: dict, review_only: bool = False, driver: str | None = None
) -> dict | None:
    project = cache / "projects" / entry["name"]
    record_file = project / "corpus.json"
    if not record_file.exists():
        print(f"{entry['name']}: not fetched (run fetch.py first)", file=sys.stderr)
        return None
    record = json.loads(record_file.read_text(encoding="utf-8"))
    env = project_env(entry, project)
    with TargetDatabase(server, entry["name"], driver) as target:
        heads = None if review_only else heads_timing(project, env, target.url)
        if timeouts["review"] is None:
            review = {"seconds": 0.0, "rc": None, "error": "skipped (--skip-review)"}
        else:
            review = review_whole_history(project, env, target.url, timeouts["review"])
        roundtrip = None if review_only else roundtrip_whole_history(project, env, target.url, timeouts["roundtrip"])
    return {**record, "check_heads": heads, "review": review, "roundtrip": roundtrip}


def print_history(result: dict) -> None:
    heads, review, roundtrip = result["check_heads"], result["review"], result["roundtrip"]
    print(f"\n== {result['name']} ({result['dist']}=={result['version']}, env={result['env']})")
    if heads is not None:
        print(
            f"  revisions        {heads['revision_count']} (files {result['revision_files']}), heads {heads['heads']}"
        )
        print(f"  check-heads      {heads['check_heads_s']} s vs alembic heads {heads['alembic_heads_s']} s "
              f"(x{heads['ratio']}), verdict {heads['verdict']}, "
              f"findings {[f[0] for f in heads['findings']]}")  # fmt: skip
    if "error" in review:
        print(f"  review           did not answer in {review['seconds']} s: {str(review['error'])[-300:]}")
    else:
        print(f"  review           {review['seconds']} s, verdict {review['verdict']}, per rev {review['verdicts']}")
        print(f"                   by severity {review['by_severity']}; escalations {review['escalations_by_rule']}")
        for rule, count in list(review["by_rule"].items())[:12]:
            print(f"                   {count:>5}  {rule}")
    if roundtrip is None:
        return
    if "error" in roundtrip:
        print(f"  roundtrip        did not answer in {roundtrip['seconds']} s: {str(roundtrip['error'])[-300:]}")
    else:
        print(f"  roundtrip        {roundtrip['seconds']} s, verdict {roundtrip['verdict']}, "
              f"coverage {roundtrip['coverage']}")  # fmt: skip
        print(f"                   {roundtrip['summary'][:300]}")
        print(f"                   all {len(roundtrip['calls'])} call(s): {roundtrip['coverage_all_calls']}")
        for failure in roundtrip["failures"]:
            print(f"                   FAIL {json.dumps(failure)[:300]}")


def compact(result: dict) -> dict:
    """One history without the per-finding lists: counts, verdicts, timings, roundtrip calls and failures."""
    review = {key: value for key, value in result["review"].items() if key not in ("findings", "escalations")}
    roundtrip = {
        key: value for key, value in (result["roundtrip"] or {}).items() if key not in ("findings", "escalations")
    }
    heads = {key: value for key, value in (result["check_heads"] or {}).items() if key != "stderr_tail"}
    return {**{key: result[key] for key in RECORD_KEYS}, "check_heads": heads, "review": review, "roundtrip": roundtrip}


def review_table(results: list[dict]) -> str:
    """The review alone: verdicts per revision, findings by severity, escalations and errors by rule."""
    lines = [
        "| history | revisions reviewed | verdicts (per revision) | errors/warnings/info | escalations | by rule |"
    ]
    lines.append("|" + "---|" * 6)
    for result in results:
        review = result["review"]
        severity = review.get("by_severity", {})
        counts = f"{severity.get('error', 0)}/{severity.get('warning', 0)}/{severity.get('info', 0)}"
        rules = ", ".join(f"{rule} {count}" for rule, count in review.get("escalations_by_rule", {}).items())
        lines.append(
            f"| {result['name']} | {review.get('revisions_reviewed', '?')} | "
            f"{review.get('verdicts', review.get('error', '')[:40])} | {counts} | "
            f"{len(review.get('escalations', []))} | {rules} |"
        )
    return "\n".join(lines)


def summary_table(results: list[dict]) -> str:
    header = "| history | revs | check-heads s / alembic heads s | review verdicts (per revision) | errors/warnings/info | escalations | roundtrip (1st call) | steps run/planned (all calls) | failures (all calls) |"  # noqa: E501
    lines = [header, "|" + "---|" * 9]
    for result in results:
        heads, review, roundtrip = result["check_heads"], result["review"], result["roundtrip"]
        severity = review.get("by_severity", {})
        counts = f"{severity.get('error', 0)}/{severity.get('warning', 0)}/{severity.get('info', 0)}"
        first, every = roundtrip.get("coverage") or {}, roundtrip.get("coverage_all_calls") or {}
        steps = f"{first.get('steps_run', '?')}/{first.get('steps_planned', '?')} ({every.get('steps_run', '?')})"
        lines.append(
            f"| {result['name']} ({result['env']}) | {heads['revision_count']} | {heads['check_heads_s']} / "
            f"{heads['alembic_heads_s']} (x{heads['ratio']}) | {review.get('verdicts', review.get('error', '')[:40])} "
            f"| {counts} | {len(review.get('escalations', []))} | {roundtrip.get('verdict', 'no answer')} | {steps} "
            f"| {len(roundtrip.get('failures', []))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--pg", default=DEFAULT_SERVER, help="PostgreSQL server for the target databases")
    parser.add_argument("--driver", help="driver in the URL the tools get (psycopg2: postgresql+psycopg2://)")
    parser.add_argument("--review-timeout", type=float, default=300.0)
    parser.add_argument("--roundtrip-timeout", type=float, default=300.0, help="budget per history, all calls")
    parser.add_argument("--report", type=Path, help="full JSON report (default: <cache>/report.json)")
    parser.add_argument("--summary", type=Path, default=HERE / "results.json", help="compact results (committed)")
    parser.add_argument("--skip-review", action="store_true", help="check-heads and roundtrip only (rehearsal work)")
    parser.add_argument("--review-only", action="store_true", help="the review alone: no check-heads, no rehearsal")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows while it runs, also into a file
    timeouts = {"review": None if args.skip_review else args.review_timeout, "roundtrip": args.roundtrip_timeout}
    results = []
    for entry in load_manifest():
        if args.only and entry["name"] not in args.only:
            continue
        result = run_history(entry, args.cache.expanduser(), args.pg, timeouts, args.review_only, args.driver)
        if result is not None:
            print_history(result)
            results.append(result)
    print("\n" + (review_table(results) if args.review_only else summary_table(results)))
    report = args.report or args.cache.expanduser() / "report.json"
    report.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    args.summary.write_text(json.dumps([compact(result) for result in results], indent=1) + "\n", encoding="utf-8")
    print(f"\nreport: {report}\nsummary: {args.summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
