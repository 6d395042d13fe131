"""Scoring. The only place the benchmark reads `gold_files`."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence


def recall_at(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold files among the first k ranked files."""
    top = set(ranked[:k])
    return sum(1 for g in gold if g in top) / len(gold) if gold else 0.0


def in_map(text: str, gold: Sequence[str]) -> float:
    """Share of the gold files whose path appears in the map as a file entry (a line starting with it)."""
    if not gold:
        return 0.0
    found = 0
    for g in gold:
        if re.search(rf"(?m)^{re.escape(g)}(?::|\s|$)", text):
            found += 1
    return found / len(gold)


def approx_tokens(text: str) -> float:
    return len(text) / 4


def mean(xs: Sequence[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")
