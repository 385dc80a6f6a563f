"""Readable text for a verdict result, for the CLI's table output."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

ICONS = {"proceed": "PROCEED", "fix": "FIX", "escalate": "ESCALATE"}


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def render_result(tool: str, result: BaseModel) -> str:
    data: dict[str, Any] = result.model_dump()
    out = [f"{tool}: {ICONS.get(data['verdict'], data['verdict'])}", data["summary"], ""]
    if data.get("escalations"):
        out.append("Escalations (a human must decide):")
        out.append(_table([[e["rule"], e["reason"]] for e in data["escalations"]], ["rule", "reason"]))
        out.append("")
    if data.get("findings"):
        rows = []
        for f in data["findings"]:
            where = f["file"] or ""
            if f.get("line"):
                where += f":{f['line']}"
            rows.append([f["severity"], f["rule"], where, f["message"]])
        out.append(_table(rows, ["severity", "rule", "where", "message"]))
        fixes = [f for f in data["findings"] if f.get("fix") and f["severity"] != "info"]
        if fixes:
            out.append("")
            out.append("Fixes:")
            out.extend(f"  [{f['rule']}] {f['fix']}" for f in fixes)
        out.append("")
    for key, value in data.items():
        if key in {"verdict", "summary", "escalations", "findings", "next_steps", "escalate_to_human"}:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            cols = [k for k, v in value[0].items() if not isinstance(v, list | dict)][:5]
            out.append(f"{key}:")
            out.append(_table([[str(v.get(c, "")) for c in cols] for v in value], cols))
            out.append("")
        elif isinstance(value, dict):
            simple = {k: v for k, v in value.items() if v not in (None, [], "")}
            out.append(f"{key}: " + ", ".join(f"{k}={v}" for k, v in simple.items()))
        elif value not in (None, [], ""):
            out.append(f"{key}: {value}")
    if data.get("next_steps"):
        out.append("")
        out.append("Next steps:")
        out.extend(f"  {i}. {s}" for i, s in enumerate(data["next_steps"], 1))
    return "\n".join(out).rstrip() + "\n"
