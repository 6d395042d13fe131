"""Rendering: ranked files with the signatures of their most relevant definitions, in scope.

    src/pkg/module.py:
    │class Parser:
    │    def parse(self, text):
    ⋮
    │def helper(x):

What is shown is a prefix of one priority order over "items" (a file's header line, or one of its
definitions): file r's header has key r and its j-th best definition has key 2(r+1)(j+1), so the
best files show many definitions, lower ones a few, and the rest only their paths. A binary
search over the prefix length finds the longest map the budget allows, with tokens counted by
the caller's counter (`approx_tokens`, len/4, for the engine and the CLI alike).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.repomap.tags import Definition

if TYPE_CHECKING:
    from runner.repomap.rank import Ranking, Snapshot

SPREAD = 2.0  # how much faster definitions thin out than files (see the module docstring)
MAX_LINE = 120


def approx_tokens(text: str) -> int:
    """About a token per 4 characters: the estimate the benchmark uses for every map."""
    return math.ceil(len(text) / 4)


def _items(ranking: Ranking) -> list[tuple[float, int, int]]:
    """(key, file position in ranking, definition index or -1 for the header), best first."""
    items: list[tuple[float, int, int]] = []
    for r, ranked in enumerate(ranking.files):
        items.append((float(r), r, -1))
        for j, (d, _score) in enumerate(ranked.symbols):
            items.append((SPREAD * (r + 1) * (j + 1), r, d))
    items.sort()
    return items


def _file_block(path: str, defs: list[Definition], shown: set[int]) -> list[str]:
    lines = [f"{path}:"]
    if not shown:
        return lines
    wanted = set()
    for d in shown:  # each definition with the scopes around it
        while d >= 0 and d not in wanted:
            wanted.add(d)
            d = defs[d].parent
    last_line = -1
    for d in sorted(wanted, key=lambda k: (defs[k].line, k)):
        definition = defs[d]
        if definition.line == last_line:  # scopes opened on one line (`namespace a { class B { void c(); } }`)
            continue
        if last_line >= 0 and definition.line > last_line + 1:
            lines.append("⋮")
        sig = definition.sig if len(definition.sig) <= MAX_LINE else definition.sig[: MAX_LINE - 1] + "…"
        lines.append(f"│{sig}")
        last_line = definition.line
    return lines


def _text(snapshot: Snapshot, ranking: Ranking, items: list[tuple[float, int, int]], extra: list[str]) -> str:
    shown: dict[int, set[int]] = defaultdict(set)
    for _key, r, d in items:
        if d >= 0:
            shown[r].add(d)
        else:
            shown.setdefault(r, set())
    out: list[str] = []
    for r in sorted(shown):
        path = ranking.files[r].path
        entry = snapshot.entries[snapshot.ids[path]] if shown[r] and path in snapshot.ids else None
        defs = entry.tags.defs if entry is not None and entry.tags is not None else []  # decoded only if shown
        out.extend(_file_block(path, defs, shown[r]))
    out.extend(extra)
    return "\n".join(out) + "\n" if out else ""


def render_map(snapshot: Snapshot, ranking: Ranking, tokens: int, count_tokens: Callable[[str], int]) -> str:
    items = _items(ranking)
    unranked = [f"{path} ({kind.value}, not ranked)" for path, kind in ranking.unranked]
    full = _text(snapshot, ranking, items, unranked)
    if count_tokens(full) <= tokens:
        return full
    lo, hi, best = 0, min(len(items), 4 * tokens), ""
    while lo <= hi:  # the largest prefix of items whose text fits
        mid = (lo + hi) // 2
        text = _text(snapshot, ranking, items[:mid], [])
        if count_tokens(text) <= tokens:
            best, lo = text, mid + 1
        else:
            hi = mid - 1
    return best
