"""BM25 over each file's words (identifiers split into parts) and the words of its path.

The index is an inverted one in flat arrays (term -> slice of document ids and counts), built
once per snapshot, so scoring an issue costs in proportion to the postings of its words, not to
the number of files times the number of words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import chain

import numpy as np

K1 = 1.2  # the usual BM25 constants (Robertson and Zaragoza), not fitted here
B = 0.75


class Lexical:
    def __init__(self, docs: Sequence[Mapping[str, int]]) -> None:
        self.n = len(docs)
        sizes = np.fromiter((len(d) for d in docs), dtype=np.int64, count=self.n)
        vocab: dict[str, int] = {}
        term_ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in chain.from_iterable(docs)),
                               dtype=np.int64, count=int(sizes.sum()))
        counts = np.fromiter(chain.from_iterable(d.values() for d in docs), dtype=np.float64, count=term_ids.size)
        doc_ids = np.repeat(np.arange(self.n, dtype=np.int64), sizes)
        self.lengths = np.bincount(doc_ids, weights=counts, minlength=self.n) if self.n else np.zeros(0)
        order = np.argsort(term_ids, kind="stable")
        self.vocab = vocab
        self.indptr = np.concatenate(([0], np.cumsum(np.bincount(term_ids, minlength=len(vocab)))))
        self.doc = doc_ids[order]
        self.tf = counts[order]
        self.avg = float(self.lengths.mean()) if self.n else 1.0
        self._norm = K1 * (1 - B + B * self.lengths / max(self.avg, 1.0))

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document ids, counts) of the documents containing `term`."""
        t = self.vocab.get(term)
        if t is None:
            return self.doc[:0], self.tf[:0]
        lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.doc[lo:hi], self.tf[lo:hi]

    def idf_of(self, query: Mapping[str, float]) -> dict[str, float]:
        """IDF of the query's words that occur in some document."""
        out: dict[str, float] = {}
        for term in query:
            t = self.vocab.get(term)
            if t is not None:
                df = int(self.indptr[t + 1] - self.indptr[t])
                out[term] = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
        return out

    def scores(self, query: Mapping[str, float], weighted: bool = False,
               idf: Mapping[str, float] | None = None) -> np.ndarray:
        """BM25 of every document for a bag of query words. A word's value is its count damped by
        a log, or (`weighted`) a weight given as is. `idf` is `idf_of(query)` when the caller has it.
        Nothing is kept on the index: a snapshot's index serves concurrent queries."""
        out = np.zeros(self.n)
        for term, rarity in (idf if idf is not None else self.idf_of(query)).items():
            docs, tf = self.postings(term)
            count = query[term]
            value = count if weighted else 1 + math.log(count)
            out[docs] += value * rarity * tf * (K1 + 1) / (tf + self._norm[docs])
        return out


def best_chunk_scores(chunks: Sequence[Sequence[Mapping[str, int]]], query: Mapping[str, float],
                      idf: Mapping[str, float], avg_length: float) -> np.ndarray:
    """For each file (given as its windows), the BM25 of its best window. IDF comes from the
    file-level index: this only re-reads the windows of the candidate files it is given."""
    out = np.zeros(len(chunks))
    weights = {t: (1 + math.log(c)) * idf[t] for t, c in query.items() if t in idf}
    terms = weights.keys()
    scale = K1 / max(avg_length, 1.0)
    for f, windows in enumerate(chunks):
        best = 0.0
        for window in windows:
            shared = terms & window.keys()
            if not shared:
                continue
            norm = K1 * (1 - B) + B * scale * sum(window.values())
            score = 0.0
            for term in shared:
                tf = window[term]
                score += weights[term] * tf * (K1 + 1) / (tf + norm)
            best = max(best, score)
        out[f] = best
    return out
