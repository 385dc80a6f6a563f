"""Every node of an AST subtree, listed once and kept while the subtree lives: what ``ast.walk`` yields,
in its order.

The rules walk the same parsed module (and the same functions) many times per file, and ``ast.walk`` is a
slow generator. The listing is kept in a table keyed weakly by the node it starts from (nodes never refer
to their parents, so the listing does not keep its node alive): it lives as long as the parse, which
history/cache.py keeps by content and shares read-only; a changed file is parsed into new nodes, listed
anew. ``stats`` counts listings and reuses (tests count, never time).
"""

from __future__ import annotations

import ast
from collections import Counter
from threading import Lock
from weakref import WeakKeyDictionary

stats: Counter[str] = Counter()  # "listed", "reused"
_below: WeakKeyDictionary[ast.AST, tuple[ast.AST, ...]] = WeakKeyDictionary()
_lock = Lock()  # files are linted in worker threads


def walk(node: ast.AST) -> tuple[ast.AST, ...]:
    """``tuple(ast.walk(node))``, listed once per node. The tree must not change afterwards (nothing in the
    review changes a parse; fixes edit copies)."""
    below = _below.get(node)
    if below is None:
        below = _listed(node)
        with _lock:
            _below[node] = below
        stats["listed"] += 1
    else:
        stats["reused"] += 1
    return (node, *below)


def children(node: ast.AST) -> list[ast.AST]:
    """``list(ast.iter_child_nodes(node))``, in one loop."""
    out: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            out.extend(item for item in value if isinstance(item, ast.AST))
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


def _listed(node: ast.AST) -> tuple[ast.AST, ...]:
    """What ``ast.walk(node)`` yields after ``node`` (breadth first, fields in order), as one loop rather than
    a generator per node; without the node itself, so the entry does not hold its own key."""
    out = [node]
    append = out.append
    for current in out:  # the list grows while it is read: first in, first out, as ast.walk's queue
        for name in current._fields:
            value = getattr(current, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        append(item)
            elif isinstance(value, ast.AST):
                append(value)
    return tuple(out[1:])
