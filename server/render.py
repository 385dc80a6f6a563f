"""Readable text for a verdict result, for the CLI's default output, fitted to the terminal's width.

Tables keep their leading columns on one line and wrap the last one under itself; when even the
leading columns do not fit, each row becomes a block (its cells on one line, the text indented
below). Values are printed as words (server/terminal.py's ``as_text``), never as Python reprs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from alembic_mcp.server.terminal import as_text, terminal_width, wrap

ICONS = {"proceed": "PROCEED", "fix": "FIX", "escalate": "ESCALATE"}
SHOWN_ELSEWHERE = {"verdict", "summary", "escalations", "findings", "next_steps", "escalate_to_human"}
GAP = "  "
MIN_LAST_COLUMN = 24
MAX_TABLE_COLUMNS = 5


def table(rows: list[list[str]], headers: list[str], width: int) -> list[str]:
    """Rows under headers within ``width`` columns; the last column wraps."""
    lead = [max(len(cell) for cell in column) for column in zip(*[headers[:-1], *(r[:-1] for r in rows)], strict=True)]
    lead_width = sum(lead) + len(GAP) * len(lead)
    if width - lead_width < MIN_LAST_COLUMN:
        return _blocks(rows, width)
    last_width = width - lead_width
    out = [_row(headers, lead, last_width, width)[0], _rule(lead, headers, rows, last_width)]
    for row in rows:
        out.extend(_row(row, lead, last_width, width))
    return out


def _row(cells: list[str], lead: list[int], last_width: int, width: int) -> list[str]:
    prefix = "".join(cell.ljust(size) + GAP for cell, size in zip(cells[:-1], lead, strict=True))
    pieces = wrap(cells[-1], last_width) if cells[-1] else [""]
    continuation = " " * len(prefix)
    return [(prefix if i == 0 else continuation) + piece.strip() for i, piece in enumerate(pieces)]


def _rule(lead: list[int], headers: list[str], rows: list[list[str]], last_width: int) -> str:
    last = min(max([len(headers[-1])] + [len(r[-1]) for r in rows]), last_width)
    return GAP.join("-" * size for size in [*lead, last])


def _blocks(rows: list[list[str]], width: int) -> list[str]:
    out: list[str] = []
    for row in rows:
        out.extend(wrap("  ".join(cell for cell in row[:-1] if cell), width))
        if row[-1] not in ("", "-"):
            out.extend(wrap(row[-1], width, indent="    "))
    return out


def _evidence(escalations: list[dict[str, Any]], width: int) -> list[str]:
    """What each escalation rests on, for the human the agent asks (the skill says to show it)."""
    out: list[str] = []
    for escalation in escalations:
        shown = {k: v for k, v in (escalation.get("evidence") or {}).items() if v not in (None, [], "", {})}
        if shown:
            out.append(f"Evidence for {escalation['rule']}:")
            out.extend(line for k, v in shown.items() for line in wrap(f"{k}: {as_text(v)}", width, indent="  "))
    return out


def _findings(findings: list[dict[str, Any]], width: int) -> list[str]:
    rows = []
    for finding in findings:
        where = finding.get("file") or ""
        if finding.get("line"):
            where += f":{finding['line']}"
        rows.append([finding["severity"], finding["rule"], where or "-", finding["message"]])
    out = table(rows, ["severity", "rule", "where", "message"], width)
    fixes = [f for f in findings if f.get("fix") and f["severity"] != "info"]
    if fixes:
        out += ["", "Fixes:"]
        for finding in fixes:
            first, *code = finding["fix"].splitlines()
            out.extend(wrap(f"[{finding['rule']}] {first}", width, indent="  "))
            out.extend(f"    {line}" for line in code)  # code: wrapping would break it
    return out


def _field(key: str, value: Any, width: int) -> list[str]:
    """One result field beyond the verdict: a table for a list of records, else ``key: text``."""
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        columns = [k for k, v in value[0].items() if not isinstance(v, list | dict)][:MAX_TABLE_COLUMNS]
        if columns:
            rows = [[as_text(item.get(column)) for column in columns] for item in value]
            return [f"{key}:", *table(rows, columns, width), ""]
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if v not in (None, [], "", {})}
        if not shown:
            return []
        lines = [f"{key}:"]
        for name, item in shown.items():
            lines.extend(wrap(f"{name}: {as_text(item)}", width, indent="  "))
        return lines
    if value in (None, [], "", {}):
        return []
    return wrap(f"{key}: {as_text(value)}", width)


def _autofix(report: dict[str, Any] | None, width: int) -> list[str]:
    """What --fix did, one fix per entry with its diff as a diff (not folded into a line of text)."""
    if not report:
        return []
    out = [f"autofix: {'written' if report.get('written') else 'nothing written'}"]
    out += wrap(f"rehearsal: {report.get('rehearsal') or '-'}", width, indent="  ")
    done = "applied" if report.get("written") else "would apply"
    for fix in report.get("applied") or []:
        checked = f" ({fix['checked']})" if fix.get("checked") else ""
        out += wrap(f"{done} [{fix['rule']}] {fix['file']}:{fix['line']}{checked}", width)
        out += wrap(fix["message"], width, indent="    ") + ["    " + line for line in fix["diff"].splitlines()]
    for kind in ("undone", "not_applied"):
        for fix in report.get(kind) or []:
            where = f"{fix['file']}:{fix['line']}" if fix.get("line") else fix["file"]
            out += wrap(f"{kind.replace('_', ' ')} [{fix['rule']}] {where}: {fix['reason']}", width, indent="    ")
    if report.get("files_to_commit"):
        out += wrap(f"files to commit: {', '.join(report['files_to_commit'])}", width, indent="  ")
    return [*out, ""]


def render_result(tool: str, result: BaseModel, width: int | None = None) -> str:
    """``result`` as text for a terminal ``width`` columns wide (default: the terminal's)."""
    width = width or terminal_width()
    data: dict[str, Any] = result.model_dump(mode="json")
    out = [f"{tool}: {ICONS.get(data['verdict'], data['verdict'])}", *wrap(data["summary"], width), ""]
    if data.get("escalations"):
        out.append("Escalations (a human must decide):")
        out += table([[e["rule"], e["reason"]] for e in data["escalations"]], ["rule", "reason"], width)
        out += _evidence(data["escalations"], width)
        out.append("")
    if data.get("findings"):
        out += [*_findings(data["findings"], width), ""]
    for key, value in data.items():
        if key == "autofix":
            out += _autofix(value, width)
        elif key not in SHOWN_ELSEWHERE:
            out += _field(key, value, width)
    if data.get("next_steps"):
        out += ["", "Next steps:"]
        for number, step in enumerate(data["next_steps"], 1):
            out.extend(wrap(f"{number}. {step}", width, indent="  "))
    return "\n".join(line.rstrip() for line in out).rstrip() + "\n"
