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
        below = tuple(ast.walk(node))[1:]  # without the node itself: the entry must not hold its own key
        with _lock:
            _below[node] = below
        stats["listed"] += 1
    else:
        stats["reused"] += 1
    return (node, *below)
