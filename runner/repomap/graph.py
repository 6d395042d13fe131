"""The definition/reference graph between files, as flat numpy arrays, and personalised PageRank.

An edge runs from a file that references a name to each file that defines it, weighted by
sqrt(number of references) and shared among the definers (a name defined in many places says
little about any one of them). No Python-object graph and no recursion: power iteration over
edge arrays with `np.bincount`, so 100k files cost memory in proportion to edges only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

DAMPING = 0.85  # the usual PageRank damping
MAX_DEFINERS = 50  # names defined in more files than this (get, run, __init__) link nothing


class Graph:
    def __init__(self, n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray) -> None:
        self.n = n
        self.src, self.dst = src, dst
        out = np.bincount(src, weights=weight, minlength=n)
        self.prob = weight / np.where(out[src] > 0, out[src], 1.0)  # row-stochastic transition weights
        self.dangling = out == 0

    @classmethod
    def build(cls, refs: Sequence[Mapping[str, int]], definers: Mapping[str, Sequence[int]]) -> Graph:
        n = len(refs)
        src: list[int] = []
        dst: list[int] = []
        weight: list[float] = []
        for i, names in enumerate(refs):
            for name, count in names.items():
                targets = definers.get(name)
                if not targets or len(targets) > MAX_DEFINERS:
                    continue
                w = math.sqrt(count) / len(targets)
                for j in targets:
                    if j != i:
                        src.append(i)
                        dst.append(j)
                        weight.append(w)
        return cls(n, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.array(weight))

    def pagerank(self, personal: np.ndarray | None = None, iterations: int = 30, tol: float = 1e-9) -> np.ndarray:
        """Personalised PageRank; `personal` (non-negative, any scale) is the teleport distribution."""
        if self.n == 0:
            return np.zeros(0)
        p = np.full(self.n, 1.0 / self.n) if personal is None or personal.sum() <= 0 else personal / personal.sum()
        rank = p.copy()
        for _ in range(iterations):
            spread = np.bincount(self.dst, weights=rank[self.src] * self.prob, minlength=self.n)
            new: np.ndarray = DAMPING * (spread + rank[self.dangling].sum() * p) + (1 - DAMPING) * p
            if np.abs(new - rank).sum() < tol:
                return new
            rank = new
        return rank
