"""CI output formats for a verdict result: SARIF 2.1.0 (code scanning), JUnit XML and GitHub workflow
annotations. ``render_format`` is the one entry point the CLI uses.

Paths: a finding's file is relative to the project; CI tools want it relative to the repository root,
which is where CI runs the command, so a ``Locator`` rewrites project-relative paths against the
working directory (they stay project-relative when the project is not under it). A result GitHub
cannot place (an escalation with no file, a database-wide finding) is anchored on the project's
Alembic configuration file, line 1: GitHub refuses SARIF results without a location.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from alembic_mcp import __version__

FORMATS = ("sarif", "junit", "github")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}
INFORMATION_URI = "https://pypi.org/project/alembic-mcp/"


@dataclass(frozen=True)
class Locator:
    """Where the project sits relative to the directory CI runs in, and the file that anchors the rest."""

    project_root: Path
    cwd: Path
    anchor: str  # project-relative, e.g. "alembic.ini"

    def uri(self, project_file: str) -> str:
        absolute = (self.project_root / project_file).resolve()
        relative = os.path.relpath(absolute, self.cwd.resolve())
        return Path(project_file).as_posix() if relative.startswith("..") else Path(relative).as_posix()


@dataclass(frozen=True)
class Item:
    """One thing to report: a finding, or an escalation (always an error for CI)."""

    rule: str
    level: str  # error, warning or info
    message: str
    file: str
    line: int | None
    escalation: bool = False


def _items(data: dict[str, Any], locator: Locator) -> list[Item]:
    findings = data.get("findings", [])
    items = [
        Item(f["rule"], f["severity"], _finding_text(f), f.get("file") or locator.anchor, f.get("line") or None)
        for f in findings
    ]
    for escalation in data.get("escalations", []):
        file, line = _escalation_place(escalation, findings, locator)
        text = f"Escalate to a human: {escalation['reason']}"
        items.append(Item(escalation["rule"], "error", text, file, line, escalation=True))
    return items


def _finding_text(finding: dict[str, Any]) -> str:
    parts = [finding["message"]]
    if finding.get("fix") and finding["severity"] != "info":
        parts.append(f"Fix: {finding['fix']}")
    return "\n".join(parts)


def _escalation_place(escalation: dict[str, Any], findings: list[dict], locator: Locator) -> tuple[str, int | None]:
    """The file of the finding about the same table (else the first finding with a file, else the anchor)."""
    table = (escalation.get("evidence") or {}).get("table")
    located = [f for f in findings if f.get("file")]
    same_table = [f for f in located if table and f.get("table") == table]
    for finding in same_table or located:
        return finding["file"], finding.get("line")
    return locator.anchor, None


def to_sarif(tool: str, results: list[dict[str, Any]], locator: Locator) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run per result (several when several files were reviewed one by one)."""
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [_sarif_run(tool, data, locator) for data in results]}


def _sarif_run(tool: str, data: dict[str, Any], locator: Locator) -> dict[str, Any]:
    items = _items(data, locator)
    rule_ids = sorted({item.rule for item in items})
    rules = [{"id": rule, "shortDescription": {"text": _first_message(items, rule)}} for rule in rule_ids]
    results = [
        {
            "ruleId": item.rule,
            "ruleIndex": rule_ids.index(item.rule),
            "level": SARIF_LEVEL[item.level],
            "message": {"text": item.message},
            "locations": [_sarif_location(item, locator)],
            "properties": {"escalation": item.escalation},
        }
        for item in items
    ]
    driver = {"name": "alembic-mcp", "version": __version__, "informationUri": INFORMATION_URI, "rules": rules}
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"alembic-mcp/{tool}/"},
        "results": results,
        "properties": {"verdict": data["verdict"], "summary": data["summary"]},
    }


def _first_message(items: list[Item], rule: str) -> str:
    return next(item.message.splitlines()[0] for item in items if item.rule == rule)[:1000]


def _sarif_location(item: Item, locator: Locator) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": locator.uri(item.file)}}
    physical["region"] = {"startLine": item.line or 1}
    return {"physicalLocation": physical}


def to_junit(tool: str, results: list[dict[str, Any]], locator: Locator) -> str:
    """A testsuite per result; in it a testcase per finding and escalation, failing for each error finding
    and each escalation."""
    suites = [_junit_suite(tool, data, locator) for data in results]
    total = sum(int(suite.get("tests", "0")) for suite in suites)
    failed = sum(int(suite.get("failures", "0")) for suite in suites)
    root = ET.Element("testsuites", name="alembic-mcp", tests=str(total), failures=str(failed))
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _junit_suite(tool: str, data: dict[str, Any], locator: Locator) -> ET.Element:
    items = _items(data, locator)
    failures = [item for item in items if item.level == "error"]
    suite = ET.Element(
        "testsuite",
        name=f"alembic-mcp {tool}",
        tests=str(max(len(items), 1)),
        failures=str(len(failures)),
        errors="0",
        skipped="0",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="verdict", value=data["verdict"])
    for item in items:
        where = locator.uri(item.file) + (f":{item.line}" if item.line else "")
        case = ET.SubElement(suite, "testcase", classname=f"alembic-mcp.{tool}", name=f"{item.rule} {where}")
        case.set("file", locator.uri(item.file))
        if item.level == "error":
            kind = "escalation" if item.escalation else "error"
            failure = ET.SubElement(case, "failure", message=item.message.splitlines()[0][:500], type=kind)
            failure.text = item.message
        else:
            ET.SubElement(case, "system-out").text = f"{item.level}: {item.message}"
    if not items:
        ET.SubElement(suite, "testcase", classname=f"alembic-mcp.{tool}", name=data["summary"][:200])
    return suite


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(tool: str, results: list[dict[str, Any]], locator: Locator) -> str:
    """GitHub Actions workflow commands: one annotation per finding and escalation, then each summary."""
    return "".join(_github_lines(tool, data, locator) for data in results)


def _github_lines(tool: str, data: dict[str, Any], locator: Locator) -> str:
    lines = []
    for item in _items(data, locator):
        props = [f"file={_escape_property(locator.uri(item.file))}"]
        if item.line:
            props.append(f"line={item.line}")
        title = f"{'escalate: ' if item.escalation else ''}{item.rule}"
        props.append(f"title={_escape_property(title)}")
        lines.append(f"::{GITHUB_LEVEL[item.level]} {','.join(props)}::{_escape_data(item.message)}")
    verdict_level = {"proceed": "notice", "fix": "error", "escalate": "error"}[data["verdict"]]
    title = _escape_property(f"alembic-mcp {tool}: {data['verdict']}")
    lines.append(f"::{verdict_level} title={title}::{_escape_data(data['summary'])}")
    return "\n".join(lines) + "\n"


def render_format(fmt: str, tool: str, results: list[BaseModel], locator: Locator) -> str:
    """``results`` (one per call; several for several files) in one of FORMATS, as one document to print."""
    data = [result.model_dump(mode="json") for result in results]
    if fmt == "sarif":
        return json.dumps(to_sarif(tool, data, locator), indent=2) + "\n"
    if fmt == "junit":
        return to_junit(tool, data, locator)
    if fmt == "github":
        return to_github(tool, data, locator)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
