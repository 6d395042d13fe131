"""BM25 over each file's words (identifiers split into parts) and the words of its path."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

K1 = 1.2  # the usual BM25 constants (Robertson and Zaragoza), not fitted here
B = 0.75


class Lexical:
    def __init__(self, docs: Sequence[Mapping[str, int]]) -> None:
        self.docs = docs
        self.n = len(docs)
        self.lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64) if docs else np.zeros(0)
        self.avg = float(self.lengths.mean()) if self.n else 1.0
        self._norm = K1 * (1 - B + B * self.lengths / max(self.avg, 1.0))

    def scores(self, query: Mapping[str, float], weighted: bool = False) -> np.ndarray:
        """BM25 of every document for a bag of query words. A word's value is its count damped by
        a log, or (`weighted`) a weight given as is."""
        out = np.zeros(self.n)
        self.idf: dict[str, float] = {}
        if not self.n:
            return out
        for term, count in query.items():
            tf = np.fromiter((d.get(term, 0) for d in self.docs), dtype=np.float64, count=self.n)
            df = int(np.count_nonzero(tf))
            if not df:
                continue
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            self.idf[term] = idf
            value = count if weighted else 1 + math.log(count)
            out += value * idf * tf * (K1 + 1) / (tf + self._norm)
        return out


def best_chunk_scores(chunks: Sequence[Sequence[Mapping[str, int]]], query: Mapping[str, float],
                      idf: Mapping[str, float], avg_length: float) -> np.ndarray:
    """For each file (given as its windows), the BM25 of its best window. IDF comes from the
    file-level index: this only re-reads the windows of the candidate files it is given."""
    out = np.zeros(len(chunks))
    terms = [(t, (1 + math.log(c)) * idf[t]) for t, c in query.items() if t in idf]
    for f, windows in enumerate(chunks):
        best = 0.0
        for window in windows:
            norm = K1 * (1 - B + B * sum(window.values()) / max(avg_length, 1.0))
            score = 0.0
            for term, weight in terms:
                tf = window.get(term)
                if tf:
                    score += weight * tf * (K1 + 1) / (tf + norm)
            best = max(best, score)
        out[f] = best
    return out
