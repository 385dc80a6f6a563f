"""The revision graph of a project, built from the worker's ``history`` output, with broken
histories diagnosed (duplicate ids, missing parents, cycles) instead of raised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from alembic_mcp.tools.core.config import Project
from alembic_mcp.tools.core.url_text import dialect_only
from alembic_mcp.tools.core.verdict import Finding
from alembic_mcp.tools.worker.protocol import HistoryArgs, RuntimeInfo, WorkerReply
from alembic_mcp.tools.worker.reply_cache import cached_worker_reply


@dataclass
class RevisionNode:
    revision: str
    down_revisions: list[str]
    branch_labels: list[str]
    depends_on: list[str]
    doc: str
    path: str
    children: list[str] = field(default_factory=list)
    import_failed: bool = False  # read from the source text: the module itself failed to import


@dataclass
class History:
    """Revisions by id, graph facts and the findings about what is broken."""

    nodes: dict[str, RevisionNode]
    findings: list[Finding]
    heads: list[str]
    bases: list[str]
    cycle: list[str] = field(default_factory=list)
    unplaced_files: list[str] = field(default_factory=list)  # failed to import and their ids are unreadable
    runtime: RuntimeInfo | None = None  # the interpreter the worker loaded the files in
    # by revision: the revisions below it in upgrade order (the nodes never change once built, and copies
    # of a kept graph share this, so a warm call does not walk a thousand ancestors again)
    below_memo: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    line_memo: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)  # see _line_below

    @property
    def usable(self) -> bool:
        return not self.cycle

    def branch_points(self) -> list[str]:
        return [r for r, n in self.nodes.items() if len(n.children) > 1]

    def merge_points(self) -> list[str]:
        return [r for r, n in self.nodes.items() if len([d for d in n.down_revisions if d in self.nodes]) > 1]

    def ancestors(self, revision: str) -> set[str]:
        """``revision`` and everything below it."""
        seen: set[str] = set()
        stack = [revision]
        while stack:
            rev = stack.pop()
            if rev in seen or rev not in self.nodes:
                continue
            seen.add(rev)
            stack.extend(self.nodes[rev].down_revisions)
        return seen

    def ordered_below(self, revision: str) -> list[str]:
        """The revisions below ``revision`` (itself left out), in upgrade order; a list the caller must not change."""
        if revision not in self.below_memo:
            if revision in self.nodes and self._line_below(revision):
                self.below_memo[revision] = self._line_list(revision)
            else:
                self.below_memo[revision] = self.ordered(self.ancestors(revision) - {revision})
        return self.below_memo[revision]

    def line_parent(self, revision: str) -> str | None:
        """The parent whose ``ordered_below`` followed by itself is ``revision``'s (everything below
        ``revision`` is a line), or None."""
        if revision not in self.nodes or not self._line_below(revision):
            return None
        parents = self._parents(revision)
        return parents[0] if parents else None

    def _parents(self, revision: str) -> list[str]:
        return [down for down in self.nodes[revision].down_revisions if down in self.nodes]

    def _line_below(self, revision: str) -> bool:
        """From ``revision`` down, every revision has at most one parent: what is below it is a line, whose
        upgrade order is the only one (kept per revision, so a whole history is walked down once)."""
        path: list[str] = []
        current, line = revision, True
        while current not in self.line_memo:
            parents = self._parents(current)
            if len(parents) > 1 or current in path:  # a merge, or a cycle
                line = False
                break
            path.append(current)
            if not parents:
                break
            current = parents[0]
        else:
            line = self.line_memo[current]
        self.line_memo.update(dict.fromkeys(path, line))
        return line

    def _line_list(self, revision: str) -> list[str]:
        """``ordered_below`` of a revision on a line (what ``ordered`` gives there, without sorting every
        ancestor): down the line to the first revision already known, then back up; only this revision's
        list is kept (a list per revision of a long line would hold the line's square)."""
        line: list[str] = []
        parents = self._parents(revision)
        current = parents[0] if parents else None
        while current is not None and current not in self.below_memo:
            line.append(current)
            parents = self._parents(current)
            current = parents[0] if parents else None
        known = [*self.below_memo[current], current] if current is not None else []
        return known + line[::-1]

    def ordered(self, revisions: set[str]) -> list[str]:
        """``revisions`` in upgrade order (parents first)."""
        order: list[str] = []
        placed: set[str] = set()
        for rev in sorted(revisions):
            stack = [(rev, False)]
            while stack:
                current, expanded = stack.pop()
                if current in placed or current not in revisions:
                    continue
                if expanded:
                    placed.add(current)
                    order.append(current)
                    continue
                stack.append((current, True))
                for parent in self.nodes[current].down_revisions:
                    if parent in revisions and parent not in placed:
                        stack.append((parent, False))
        return order

    def resolve(self, ident: str) -> list[str]:
        """Resolve an id, unique prefix, branch label, ``head``/``heads``/``base`` to revision ids."""
        if ident in ("head", "heads"):
            return list(self.heads)
        if ident == "base":
            return []
        if ident in self.nodes:
            return [ident]
        labelled = [r for r, n in self.nodes.items() if ident in n.branch_labels]
        if labelled:
            return labelled
        matches = [r for r in self.nodes if r.startswith(ident)]
        return matches


def _fmt_file(project: Project, path: str | None) -> str | None:
    return project.relative(path) if path else None


def build_history(project: Project, raw: dict[str, Any]) -> History:
    findings: list[Finding] = []
    for err in raw.get("load_errors", []):
        findings.append(
            Finding(
                rule="revision-import-error",
                severity="error",
                message=f"Migration file {_fmt_file(project, err.get('path'))} failed to load: "
                f"{err.get('type')}: {err.get('message')}",
                file=_fmt_file(project, err.get("file") or err.get("path")),
                line=err.get("line"),
                why="Alembic stops at this file: no upgrade, downgrade or merge can run until it imports.",
                fix="Fix the error at the given line (or the import it needs), then call check_heads again.",
            )
        )
    counts = Counter(r["revision"] for r in raw.get("revisions", []))
    nodes: dict[str, RevisionNode] = {}
    for rec in raw.get("revisions", []):
        rev = rec["revision"]
        if counts[rev] > 1 and rev in nodes:
            dupes = [project.relative(r["path"]) for r in raw["revisions"] if r["revision"] == rev]
            findings.append(
                Finding(
                    rule="duplicate-revision",
                    severity="error",
                    message=f"Revision id {rev} is declared by {len(dupes)} files: {', '.join(dupes)}.",
                    file=project.relative(rec["path"]),
                    why="Alembic keeps only one of them; the other migration silently never runs.",
                    fix="Give one file a new id (alembic.util.rev_id()) in `revision = ...` and its "
                    "filename, and point its children's down_revision at it.",
                )
            )
            continue
        nodes[rev] = RevisionNode(
            rev,
            list(rec["down_revisions"]),
            list(rec["branch_labels"]),
            list(rec["depends_on"]),
            rec.get("doc", ""),
            rec["path"],
            import_failed=bool(rec.get("import_failed")),
        )
    placed = {rec["path"] for rec in raw.get("revisions", [])}
    unplaced = [project.relative(e["path"]) for e in raw.get("load_errors", []) if e.get("path") not in placed]
    for node in nodes.values():
        findings.extend(_missing_parent(project, node, d, unplaced) for d in node.down_revisions if d not in nodes)
        node.down_revisions = [d for d in node.down_revisions if d in nodes]
    for node in nodes.values():
        for parent in node.down_revisions:
            nodes[parent].children.append(node.revision)

    history = History(nodes=nodes, findings=findings, heads=[], bases=[], unplaced_files=unplaced)
    history.cycle = _revisions_in_cycles(nodes)
    if history.cycle:
        findings.append(
            Finding(
                rule="revision-cycle",
                severity="error",
                message=f"The revision graph has a cycle through {', '.join(history.cycle)}.",
                file=project.relative(nodes[history.cycle[0]].path),
                why="A revision is its own ancestor: Alembic cannot compute heads or an upgrade order.",
                fix="Find the down_revision that points forward (a newer revision) and point it at the "
                "revision the file really follows.",
            )
        )
    else:
        history.heads = sorted(r for r, n in nodes.items() if not n.children)
        history.bases = sorted(r for r, n in nodes.items() if not n.down_revisions)
    return history


def _missing_parent(project: Project, node: RevisionNode, parent: str, unplaced: list[str]) -> Finding:
    """A down_revision no file declares; when files failed to import unread, one of them may declare it."""
    if unplaced:
        return Finding(
            rule="missing-parent",
            severity="warning",
            message=f"Revision {node.revision} has down_revision {parent!r}; no readable migration file declares "
            f"it, but {', '.join(unplaced)} failed to import and may.",
            file=project.relative(node.path),
            why="Until those files import, their revisions cannot be placed: the gap may not be real.",
            fix="Fix the import errors first (revision-import-error), then call check_heads again.",
        )
    return Finding(
        rule="missing-parent",
        severity="error",
        message=f"Revision {node.revision} has down_revision {parent!r}, but no migration file declares that revision.",
        file=project.relative(node.path),
        why="The chain is broken: Alembic cannot place this revision, so upgrade and downgrade fail.",
        fix=f"Restore the file for {parent} (git log --all -- '*{parent}*'), or point "
        f"down_revision at the revision this one really follows.",
    )


def _revisions_in_cycles(nodes: dict[str, RevisionNode]) -> list[str]:
    """Revisions that cannot be ordered parents-first (Kahn's algorithm): the cycle and what hangs off it."""
    pending = {rev: len(set(node.down_revisions)) for rev, node in nodes.items()}
    ready = [rev for rev, count in pending.items() if count == 0]
    while ready:
        rev = ready.pop()
        for child in set(nodes[rev].children):
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
        del pending[rev]
    return sorted(pending)


async def load_history(project: Project, check_env: bool = True) -> tuple[History, dict[str, Any] | None]:
    """Run the worker's history op; return the graph and env.py's error (if any).

    A clean import check (every file and env.py loaded) is reused while nothing the worker read has
    changed (``reply_cache``); one with errors always runs again.
    """
    reply = await cached_worker_reply(
        project,
        "history",
        HistoryArgs(check_env=check_env),
        database_url=history_worker_url(project),
        keep=_clean_import_check,
    )
    raw = reply.result or {}
    history = build_history(project, raw)
    history.runtime = reply.runtime
    return history, raw.get("env_error")


def history_worker_url(project: Project) -> str | None:
    """The URL the history op's worker gets: the target's backend and driver alone, nothing to connect to."""
    parts = project.database_url_parts
    return dialect_only(parts.drivername) if parts is not None else None


def _clean_import_check(reply: WorkerReply) -> bool:
    result = reply.result or {}
    return reply.ok and not result.get("load_errors") and not result.get("env_error")
