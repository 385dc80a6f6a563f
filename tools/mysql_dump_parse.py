"""Reads a ``mariadb-dump``/``mysqldump`` SQL file: is it complete, which tables does it create, and how
many rows does each table's INSERT statements hold.

A complete dump starts with the ``-- MariaDB dump`` / ``-- MySQL dump`` header and ends with
``-- Dump completed``; a truncated or garbled file fails. Rows are counted as the top-level value tuples
of ``INSERT INTO `t` VALUES (...),(...);`` lines, skipping quoted strings (with backslash escapes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

HEADER = re.compile(r"^-- (MariaDB|MySQL) dump ")
CREATE = re.compile(r"^CREATE TABLE `((?:[^`]|``)+)` \(")
INSERT = re.compile(r"^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES ")
HEADER_LINES = 5


@dataclass
class ParsedDump:
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    header: str = ""


def count_tuples(values: str) -> int | None:
    """Top-level ``(...)`` groups in the VALUES part of one INSERT statement; None when unbalanced."""
    depth = 0
    count = 0
    in_string = False
    escaped = False
    for ch in values:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == "'":
                in_string = False
            continue
        if ch == "'":
            in_string = True
        elif ch == "(":
            if depth == 0:
                count += 1
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None
    if depth != 0 or in_string:
        return None
    return count


def parse_mysql_dump(path: Path) -> ParsedDump:
    result = ParsedDump(ok=False)
    last = ""
    header_seen = False
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if number <= HEADER_LINES and HEADER.match(line):
                    header_seen = True
                    result.header = line.strip()
                if line.strip():
                    last = line.strip()
                if line.startswith("CREATE TABLE"):
                    match = CREATE.match(line)
                    if match:
                        result.counts.setdefault(match.group(1).replace("``", "`"), 0)
                elif line.startswith("INSERT INTO"):
                    match = INSERT.match(line)
                    if not match:
                        result.problems.append(f"line {number}: an INSERT statement that cannot be read")
                        continue
                    table = match.group(1).replace("``", "`")
                    body = line[match.end() :].rstrip()
                    if not body.endswith(";"):
                        result.problems.append(f"line {number}: INSERT INTO `{table}` is cut off")
                        continue
                    tuples = count_tuples(body[:-1])
                    if tuples is None:
                        result.problems.append(f"line {number}: INSERT INTO `{table}` has unbalanced values")
                        continue
                    if table not in result.counts:
                        result.problems.append(f"line {number}: rows for `{table}` before its CREATE TABLE")
                        result.counts[table] = 0
                    result.counts[table] += tuples
    except OSError as exc:
        result.problems.append(f"cannot read {path.name}: {exc}")
        return result
    if not header_seen:
        result.problems.append("no '-- MariaDB dump' / '-- MySQL dump' header: not a dump file")
    if not last.startswith("-- Dump completed"):
        result.problems.append("no '-- Dump completed' trailer: the dump is truncated")
    result.ok = not result.problems
    return result
