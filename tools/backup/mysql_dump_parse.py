"""Reads a ``mariadb-dump``/``mysqldump`` SQL file: is it complete, which tables does it create, and how
many rows does each table's INSERT statements hold.

A complete dump starts with the ``-- MariaDB dump`` / ``-- MySQL dump`` header and ends with
``-- Dump completed``; a truncated or garbled file fails. Rows are counted as the top-level value tuples
of ``INSERT INTO `t` VALUES (...),(...);`` statements (one or many lines), skipping quoted strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

HEADER = re.compile(r"^-- (MariaDB|MySQL) dump ")
CREATE = re.compile(r"^CREATE TABLE `((?:[^`]|``)+)` \(")
INSERT = re.compile(r"^INSERT INTO `((?:[^`]|``)+)` (?:\([^)]*\) )?VALUES\b")
STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
PUNCT = re.compile(r"[();]")
HEADER_LINES = 5


@dataclass
class ParsedDump:
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    header: str = ""


class _Insert:
    """Row counting for one INSERT statement, which mariadb-dump may spread over many lines
    (one tuple per line). Strings never span lines: the dump escapes newlines as ``\\n``."""

    def __init__(self, table: str):
        self.table = table
        self.depth = 0
        self.rows = 0

    def feed(self, text: str) -> tuple[bool, str | None]:
        """Count the tuples in ``text``; (statement finished, problem)."""
        bare = STRING.sub("''", text)
        if bare.count("'") % 2:
            return False, f"INSERT INTO `{self.table}` has an unterminated string"
        for match in PUNCT.finditer(bare):
            ch = match.group()
            if ch == "(":
                if self.depth == 0:
                    self.rows += 1
                self.depth += 1
            elif ch == ")":
                self.depth -= 1
                if self.depth < 0:
                    return False, f"INSERT INTO `{self.table}` has unbalanced parentheses"
            elif self.depth == 0:
                return True, None
        return False, None


def count_tuples(values: str) -> int | None:
    """Rows in the VALUES part of one statement, ending with ``;``; None when malformed or unfinished."""
    insert = _Insert("?")
    finished, problem = insert.feed(values)
    return insert.rows if finished and not problem else None


def parse_mysql_dump(path: Path) -> ParsedDump:
    result = ParsedDump(ok=False)
    last = ""
    header_seen = False
    current: _Insert | None = None
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if number <= HEADER_LINES and HEADER.match(line):
                    header_seen = True
                    result.header = line.strip()
                if line.strip():
                    last = line.strip()
                if current is None:
                    if line.startswith("CREATE TABLE"):
                        match = CREATE.match(line)
                        if match:
                            result.counts.setdefault(match.group(1).replace("``", "`"), 0)
                        continue
                    if not line.startswith("INSERT INTO"):
                        continue
                    match = INSERT.match(line)
                    if not match:
                        result.problems.append(f"line {number}: an INSERT statement that cannot be read")
                        continue
                    current = _Insert(match.group(1).replace("``", "`"))
                    if current.table not in result.counts:
                        result.problems.append(f"line {number}: rows for `{current.table}` before its CREATE TABLE")
                        result.counts[current.table] = 0
                    line = line[match.end() :]
                finished, problem = current.feed(line)
                if problem:
                    result.problems.append(f"line {number}: {problem}")
                    current = None
                elif finished:
                    result.counts[current.table] += current.rows
                    current = None
    except OSError as exc:
        result.problems.append(f"cannot read {path.name}: {exc}")
        return result
    if current is not None:
        result.problems.append(f"INSERT INTO `{current.table}` is cut off at the end of the file")
    if not header_seen:
        result.problems.append("no '-- MariaDB dump' / '-- MySQL dump' header: not a dump file")
    if not last.startswith("-- Dump completed"):
        result.problems.append("no '-- Dump completed' trailer: the dump is truncated")
    result.ok = not result.problems
    return result
